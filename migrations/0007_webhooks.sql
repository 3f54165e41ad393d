-- Outbound webhooks: subscribers, and an outbox of deliveries written in the same
-- transaction as the change they report, so a committed change is always announced and a
-- rolled-back one never is. A worker in `dialpool serve` sends them, signed, with retries.

CREATE TABLE webhook_subscriptions (
    tenant_id   bigint NOT NULL REFERENCES tenants (id),
    id          bigint GENERATED ALWAYS AS IDENTITY,
    url         text NOT NULL CHECK (url ~ '^https?://'),
    description text NOT NULL DEFAULT '',
    -- Sent raw to sign each body (HMAC needs it); never returned after creation.
    secret      text NOT NULL,
    events      text[] NOT NULL CHECK (cardinality(events) > 0),
    active      boolean NOT NULL DEFAULT true,
    created_by  bigint,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

CREATE TYPE webhook_delivery_status AS ENUM ('pending', 'succeeded', 'dead');

CREATE TABLE webhook_deliveries (
    tenant_id       bigint NOT NULL,
    id              bigint GENERATED ALWAYS AS IDENTITY,
    subscription_id bigint NOT NULL,
    -- One event fans out to every subscriber; receivers deduplicate by event id.
    event_id        uuid NOT NULL,
    event           text NOT NULL,
    payload         jsonb NOT NULL,
    status          webhook_delivery_status NOT NULL DEFAULT 'pending',
    attempts        int NOT NULL DEFAULT 0,
    -- Tries made before the last "send again": a resent delivery gets a fresh set of tries.
    attempts_base   int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_attempt_at timestamptz,
    last_status     int,
    last_error      text,
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, subscription_id) REFERENCES webhook_subscriptions (tenant_id, id) ON DELETE CASCADE
);

-- The worker's queue: only what still waits, in the order it falls due.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log_idx ON webhook_deliveries (tenant_id, subscription_id, id DESC);

-- Every try, for the delivery log: what the receiver answered and how long it took.
CREATE TABLE webhook_attempts (
    tenant_id   bigint NOT NULL,
    delivery_id bigint NOT NULL,
    attempt     int NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    status      int,
    error       text,
    duration_ms int NOT NULL,
    PRIMARY KEY (tenant_id, delivery_id, attempt),
    FOREIGN KEY (tenant_id, delivery_id) REFERENCES webhook_deliveries (tenant_id, id) ON DELETE CASCADE
);
