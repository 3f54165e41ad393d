-- What numbers cost and what goes back: a price recorded on an import (per number
-- delivered, and/or for the whole batch), each provider's return rules, and the return
-- batches with the reason and credit per number. Keyed by tenant like the rest.
ALTER TABLE imports ADD COLUMN price_per_number numeric(14, 6) CHECK (price_per_number >= 0);
ALTER TABLE imports ADD COLUMN price_batch numeric(14, 2) CHECK (price_batch >= 0);

-- {"window_days": 14, "statuses": ["invalid"]}: numbers delivered within the window
-- whose status is one of these may be returned. NULL: the provider takes no returns.
ALTER TABLE providers ADD COLUMN returns jsonb;

CREATE TABLE provider_returns (
    tenant_id   bigint NOT NULL REFERENCES tenants (id),
    id          bigint GENERATED ALWAYS AS IDENTITY,
    provider_id bigint NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  bigint,
    numbers     bigint NOT NULL CHECK (numbers >= 0),
    -- What the provider owes back: each number's per-number price on its import.
    credit      numeric(16, 6) NOT NULL DEFAULT 0,
    format      text NOT NULL CHECK (format IN ('csv', 'xlsx')),
    -- Under the data directory, in a partner's outbox, or a remote host's (pushed by a job).
    file_path   text NOT NULL,
    sftp_account_id bigint,
    sftp_remote_id  bigint,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, provider_id) REFERENCES providers (tenant_id, id)
);

-- A number goes back once: the key is the number, not the batch.
CREATE TABLE provider_return_numbers (
    tenant_id bigint NOT NULL,
    phone     bigint NOT NULL,
    return_id bigint NOT NULL,
    import_id bigint NOT NULL,
    reason    text NOT NULL,
    credit    numeric(14, 6) NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, phone),
    FOREIGN KEY (tenant_id, return_id) REFERENCES provider_returns (tenant_id, id)
);
CREATE INDEX provider_return_numbers_return_idx ON provider_return_numbers (tenant_id, return_id);

