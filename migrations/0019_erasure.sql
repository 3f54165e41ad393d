-- Erasure (GDPR Art. 17, "stop calling me"): a number is forgotten, and what is left is
-- a tombstone that stops it from coming back. A tombstone holds a keyed hash of the
-- number (HMAC-SHA256 under the installation's secret key, which is never in the
-- database), so a copy of the database cannot list the erased numbers: E.164 numbers are
-- few enough to hash them all, but not without the key.

CREATE TABLE erasures (
    tenant_id         bigint NOT NULL REFERENCES tenants (id),
    id                bigint GENERATED ALWAYS AS IDENTITY,
    -- Batches of one request share its key, so the report counts requests, not batches.
    request_key       text NOT NULL,
    reason            text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    requested_by      bigint,
    actor_label       text NOT NULL,
    -- When the subject asked (given by the caller; the run's start otherwise), so the
    -- compliance report can say how long erasing took.
    requested_at      timestamptz NOT NULL,
    finished_at       timestamptz NOT NULL DEFAULT now(),
    numbers           bigint NOT NULL CHECK (numbers >= 0),
    found             bigint NOT NULL CHECK (found >= 0),
    exports_withdrawn bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX erasures_request_idx ON erasures (tenant_id, request_key);
CREATE INDEX erasures_time_idx ON erasures (tenant_id, finished_at);

CREATE TABLE erasure_tombstones (
    tenant_id   bigint NOT NULL REFERENCES tenants (id),
    hash        bytea NOT NULL CHECK (length(hash) = 32),
    -- The id of the key the hash was made with: an import run with another key would
    -- miss every tombstone, so it is refused instead.
    key_id      bytea NOT NULL CHECK (length(key_id) = 4),
    erasure_id  bigint NOT NULL,
    erased_at   timestamptz NOT NULL DEFAULT now(),
    reason      text NOT NULL,
    lifted_at   timestamptz,
    lifted_by   bigint,
    lift_reason text,
    PRIMARY KEY (tenant_id, hash),
    FOREIGN KEY (tenant_id, erasure_id) REFERENCES erasures (tenant_id, id)
);
CREATE INDEX erasure_tombstones_key_idx ON erasure_tombstones (tenant_id, key_id) WHERE lifted_at IS NULL;
CREATE INDEX erasure_tombstones_lifted_idx ON erasure_tombstones (tenant_id, erasure_id) WHERE lifted_at IS NOT NULL;

-- An import counts tombstoned numbers apart; the receipt still accounts for every row.
ALTER TABLE imports ADD COLUMN erased bigint NOT NULL DEFAULT 0;
ALTER TABLE imports DROP CONSTRAINT imports_check;
ALTER TABLE imports ADD CONSTRAINT imports_check CHECK (
    status <> 'succeeded'
    OR total = inserted + updated + duplicate_in_file + duplicate_existing + invalid + dnc + erased);

-- A kept export file that held an erased number is withdrawn (deleted) and says why.
ALTER TABLE exports ADD COLUMN withdrawn_reason text;

-- The audit log stays append-only, with one exception: an erasure replaces the number in
-- the entries that name it (a do-not-call entry's id and body) in its own transaction.
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('dialpool.partition_maintenance', true) = 'on' THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND current_setting('dialpool.erasure', true) = 'on'
       AND NEW.tenant_id = OLD.tenant_id AND NEW.id = OLD.id AND NEW.at = OLD.at
       AND NEW.action = OLD.action AND NEW.entity = OLD.entity
       AND NEW.actor_label = OLD.actor_label AND NEW.actor_user_id IS NOT DISTINCT FROM OLD.actor_user_id THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
-- The application role may rewrite only those columns, and the trigger above only then.
GRANT UPDATE (entity_id, before, after) ON audit_log TO dialpool_app;

-- Erasing, subject access, tombstones and retention: administrators only by default.
UPDATE roles SET permissions = array_append(permissions, 'privacy.manage')
 WHERE built_in AND name = 'admin' AND NOT 'privacy.manage' = ANY(permissions);
CREATE OR REPLACE FUNCTION dialpool_seed_tenant_privacy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE roles SET permissions = array_append(permissions, 'privacy.manage')
     WHERE tenant_id = NEW.id AND built_in AND name = 'admin' AND NOT 'privacy.manage' = ANY(permissions);
    RETURN NEW;
END $$;
-- Runs after the roles are seeded (triggers fire in name order).
CREATE TRIGGER tenants_seed_zz_privacy AFTER INSERT ON tenants
    FOR EACH ROW EXECUTE FUNCTION dialpool_seed_tenant_privacy();
