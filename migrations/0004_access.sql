-- Signing in and staying signed in: browser sessions, login throttling, the permission
-- that lifts a user's provider/project scope, and the database role the application runs
-- as in production, which may add to the audit log but never change or remove from it.

ALTER TABLE users ADD COLUMN password_must_change boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE roles ADD COLUMN description text NOT NULL DEFAULT '';

-- Only the SHA-256 of the cookie value is stored: a copy of the table signs nobody in.
CREATE TABLE sessions (
    token_hash   bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    tenant_id    bigint NOT NULL,
    user_id      bigint NOT NULL,
    -- Synchroniser token the browser echoes in X-CSRF-Token on every state-changing request.
    csrf_token   text NOT NULL,
    address      inet,
    user_agent   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX sessions_user_idx ON sessions (tenant_id, user_id);
CREATE INDEX sessions_expiry_idx ON sessions (expires_at);

-- Failed sign-ins per key ('account:<email>' or 'address:<ip>'). Keys are global: an
-- address or an e-mail is throttled before its tenant is known.
CREATE TABLE login_failures (
    key             text PRIMARY KEY,
    failures        integer NOT NULL,
    first_failed_at timestamptz NOT NULL DEFAULT now(),
    locked_until    timestamptz
);

CREATE INDEX api_tokens_user_idx ON api_tokens (tenant_id, user_id);
CREATE INDEX audit_log_actor_idx ON audit_log (tenant_id, actor_user_id, at);
CREATE INDEX imports_list_idx ON imports (tenant_id, id DESC);

-- 'scope.all': sees every provider and project. Without it a user sees only those named
-- in user_scopes (the built-in manager role works that way).
UPDATE roles SET permissions = array_append(permissions, 'scope.all')
 WHERE built_in AND name IN ('admin', 'viewer', 'analyst') AND NOT 'scope.all' = ANY(permissions);
UPDATE roles SET permissions = array_append(permissions, 'tokens.create')
 WHERE built_in AND name IN ('admin', 'manager') AND NOT 'tokens.create' = ANY(permissions);
UPDATE roles SET description = CASE name
    WHEN 'admin'   THEN 'Everything inside the tenant'
    WHEN 'manager' THEN 'Works the providers and projects in the user''s scope'
    WHEN 'viewer'  THEN 'Reads numbers, projects and conversion'
    WHEN 'analyst' THEN 'Reads everything and exports' END
 WHERE built_in;

CREATE OR REPLACE FUNCTION dialpool_seed_tenant() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO geos (tenant_id, country, name, time_zone)
    SELECT NEW.id, code, name, time_zone FROM countries;

    INSERT INTO number_statuses (tenant_id, id, code, name, category, cooldown, max_attempts) VALUES
        (NEW.id, 0, 'new',       'New',            'fresh',    NULL,              NULL),
        (NEW.id, 1, 'in_work',   'In work',        'in_work',  NULL,              NULL),
        (NEW.id, 2, 'no_answer', 'No answer',      'retry',    interval '4 hours', 5),
        (NEW.id, 3, 'busy',      'Busy',           'retry',    interval '30 minutes', 5),
        (NEW.id, 4, 'callback',  'Call back',      'callback', interval '1 day',  3),
        (NEW.id, 5, 'success',   'Success',        'success',  NULL,              NULL),
        (NEW.id, 6, 'refused',   'Refused',        'failure',  NULL,              NULL),
        (NEW.id, 7, 'invalid',   'Invalid number', 'invalid',  NULL,              NULL),
        (NEW.id, 8, 'dnc',       'Do not call',    'dnc',      NULL,              NULL);

    INSERT INTO roles (tenant_id, name, description, permissions, built_in) VALUES
        (NEW.id, 'admin', 'Everything inside the tenant',
            ARRAY['numbers.read', 'numbers.write', 'projects.read', 'projects.write',
            'imports.create', 'exports.create', 'users.manage', 'audit.read', 'sftp.manage',
            'settings.manage', 'conversion.read', 'dnc.write', 'scope.all', 'tokens.create'], true),
        (NEW.id, 'manager', 'Works the providers and projects in the user''s scope',
            ARRAY['numbers.read', 'numbers.write', 'projects.read',
            'imports.create', 'exports.create', 'conversion.read', 'tokens.create'], true),
        (NEW.id, 'viewer', 'Reads numbers, projects and conversion',
            ARRAY['numbers.read', 'projects.read', 'conversion.read', 'scope.all'], true),
        (NEW.id, 'analyst', 'Reads everything and exports',
            ARRAY['numbers.read', 'projects.read', 'conversion.read', 'exports.create', 'scope.all'], true);
    RETURN NEW;
END $$;

-- The role `dialpool serve` should connect as in production (see docs/operations.md):
-- it owns nothing, so it cannot drop the audit log's trigger, and it may only insert into
-- and read the audit log. Roles are cluster-wide, hence the existence check.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dialpool_app') THEN
        CREATE ROLE dialpool_app NOLOGIN;
    END IF;
END $$;
GRANT USAGE ON SCHEMA public TO dialpool_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO dialpool_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO dialpool_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM dialpool_app;
DO $$
DECLARE part regclass;
BEGIN
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'audit_log'::regclass LOOP
        EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %s FROM dialpool_app', part);
    END LOOP;
END $$;
-- Tables created later by the migration owner get the same grants.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO dialpool_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO dialpool_app;
