-- Do-not-call lists by source: a regulator's registry, the company's own list. Each has
-- the country it covers, when it was last loaded and how old it may get (31 days for the
-- US national registry); a list past its age warns on Today and, when asked, holds back
-- leases of numbers in its country until it is loaded again.
CREATE TABLE dnc_lists (
    tenant_id        bigint NOT NULL REFERENCES tenants (id),
    id               bigint GENERATED ALWAYS AS IDENTITY,
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- The country it covers; NULL for every number.
    country          char(2) REFERENCES countries (code),
    max_age_days     integer CHECK (max_age_days BETWEEN 1 AND 3650),
    block_when_stale boolean NOT NULL DEFAULT false,
    loaded_at        timestamptz,
    loaded_entries   bigint NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);
-- The list an entry was loaded from; NULL for entries added one by one or by a call.
ALTER TABLE dnc_numbers ADD COLUMN list_id bigint;
