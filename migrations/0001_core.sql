-- The core schema of DESIGN.md.
--
-- Keys: every tenant-owned table carries tenant_id in its primary key and in every unique
-- constraint, and every number-keyed table carries phone, so that tenants (or, for one
-- very large tenant, phones) can be distributed on Citus without re-shaping anything.
-- Foreign keys are composite (tenant_id, id) so a row can never point into another tenant.
--
-- phone_numbers and number_events have no foreign keys on purpose: they take millions of
-- rows per import or allocation and a per-row RI trigger would cost more than the insert
-- itself, and on Citus they are distributed by phone while projects are not. The engine
-- writes them only with ids it has just resolved inside the same transaction.

CREATE TABLE countries (
    code      char(2) PRIMARY KEY CHECK (code ~ '^[A-Z]{2}$'),
    name      text NOT NULL,
    time_zone text NOT NULL
);

CREATE TABLE tenants (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug                    text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name                    text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    max_numbers             bigint CHECK (max_numbers >= 0),
    max_export_rows_per_day bigint CHECK (max_export_rows_per_day >= 0),
    created_at              timestamptz NOT NULL DEFAULT now(),
    disabled_at             timestamptz
);

CREATE TABLE roles (
    tenant_id   bigint NOT NULL REFERENCES tenants (id),
    id          bigint GENERATED ALWAYS AS IDENTITY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    permissions text[] NOT NULL DEFAULT '{}',
    built_in    boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);

CREATE TABLE users (
    tenant_id         bigint NOT NULL REFERENCES tenants (id),
    id                bigint GENERATED ALWAYS AS IDENTITY,
    email             text NOT NULL CHECK (email ~ '^[^@\s]+@[^@\s]+$'),
    display_name      text NOT NULL DEFAULT '',
    password_hash     text,
    role_id           bigint NOT NULL,
    is_platform_admin boolean NOT NULL DEFAULT false,
    locale            text NOT NULL DEFAULT 'en',
    created_at        timestamptz NOT NULL DEFAULT now(),
    disabled_at       timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id)
);
-- Sign-in is by e-mail alone, before the tenant is known, so an address is unique across
-- tenants; users is small enough to be a Citus reference table.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE api_tokens (
    tenant_id    bigint NOT NULL REFERENCES tenants (id),
    id           bigint GENERATED ALWAYS AS IDENTITY,
    user_id      bigint NOT NULL,
    name         text NOT NULL,
    token_hash   bytea NOT NULL UNIQUE,
    permissions  text[] NOT NULL DEFAULT '{}',
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);

CREATE TABLE providers (
    tenant_id      bigint NOT NULL REFERENCES tenants (id),
    id             bigint GENERATED ALWAYS AS IDENTITY,
    code           text NOT NULL CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- ISO 3166 alpha-2 region used to read numbers written without a country code.
    default_region char(2) CHECK (default_region ~ '^[A-Z]{2}$'),
    -- Saved column mapping: {"phone": "3", "geo": "Region"} (1-based index or header name).
    column_mapping jsonb NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code)
);

CREATE TABLE geos (
    tenant_id   bigint NOT NULL REFERENCES tenants (id),
    id          bigint GENERATED ALWAYS AS IDENTITY,
    country     char(2) NOT NULL REFERENCES countries (code),
    -- NULL for the whole country; otherwise the region's code, e.g. 'MOW' in RU-MOW.
    region      text CHECK (region ~ '^[A-Z0-9]{1,10}$'),
    code        text GENERATED ALWAYS AS (country || COALESCE('-' || region, '')) STORED,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    time_zone   text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code)
);
CREATE INDEX geos_name_idx ON geos (tenant_id, lower(name));

CREATE TYPE status_category AS ENUM
    ('fresh', 'in_work', 'retry', 'callback', 'success', 'failure', 'invalid', 'dnc');

CREATE TABLE number_statuses (
    tenant_id    bigint NOT NULL REFERENCES tenants (id),
    id           smallint NOT NULL CHECK (id >= 0),
    code         text NOT NULL CHECK (code ~ '^[a-z][a-z0-9_]{0,40}$'),
    name         text NOT NULL,
    category     status_category NOT NULL,
    -- How long a number in this status waits before it may be dialled again.
    cooldown     interval,
    max_attempts smallint CHECK (max_attempts > 0),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code)
);
COMMENT ON TABLE number_statuses IS
    'Status 0 of every tenant is the fresh status a newly imported number gets.';

CREATE TABLE projects (
    tenant_id        bigint NOT NULL REFERENCES tenants (id),
    id               bigint GENERATED ALWAYS AS IDENTITY,
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'deleted')),
    time_zone        text NOT NULL DEFAULT 'UTC',
    daily_quota      integer NOT NULL DEFAULT 0 CHECK (daily_quota >= 0),
    max_attempts     smallint NOT NULL DEFAULT 5 CHECK (max_attempts > 0),
    priority         smallint NOT NULL DEFAULT 0,
    -- exclusive: a number taken by this project never goes back to the shared pool;
    -- otherwise it returns to the pool when the project releases it.
    exclusive        boolean NOT NULL DEFAULT false,
    allocation_order text NOT NULL DEFAULT 'newest' CHECK (allocation_order IN ('newest', 'oldest', 'random')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    deleted_at       timestamptz,
    CHECK ((status = 'deleted') = (deleted_at IS NOT NULL)),
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX projects_name_key ON projects (tenant_id, lower(name)) WHERE deleted_at IS NULL;

-- A manager's reach: rows name a provider or a project the user may work with.
CREATE TABLE user_scopes (
    tenant_id   bigint NOT NULL REFERENCES tenants (id),
    user_id     bigint NOT NULL,
    provider_id bigint,
    project_id  bigint,
    CHECK ((provider_id IS NULL) <> (project_id IS NULL)),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, provider_id) REFERENCES providers (tenant_id, id),
    FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id)
);
CREATE UNIQUE INDEX user_scopes_key
    ON user_scopes (tenant_id, user_id, COALESCE(provider_id, 0), COALESCE(project_id, 0));

-- Pool rules: which provider x geo a project draws from; NULL means any.
CREATE TABLE project_sources (
    tenant_id   bigint NOT NULL,
    id          bigint GENERATED ALWAYS AS IDENTITY,
    project_id  bigint NOT NULL,
    provider_id bigint,
    geo_id      bigint,
    weight      integer NOT NULL DEFAULT 1 CHECK (weight > 0),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, provider_id) REFERENCES providers (tenant_id, id),
    FOREIGN KEY (tenant_id, geo_id) REFERENCES geos (tenant_id, id)
);
CREATE UNIQUE INDEX project_sources_key
    ON project_sources (tenant_id, project_id, COALESCE(provider_id, 0), COALESCE(geo_id, 0));

-- Weekday (ISO: 1 = Monday) and a time window in the project's time zone; a day may have
-- several windows.
CREATE TABLE project_schedules (
    tenant_id  bigint NOT NULL,
    id         bigint GENERATED ALWAYS AS IDENTITY,
    project_id bigint NOT NULL,
    weekday    smallint NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    starts_at  time NOT NULL,
    ends_at    time NOT NULL CHECK (ends_at > starts_at),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX project_schedules_project_idx ON project_schedules (tenant_id, project_id, weekday);

CREATE TABLE project_holidays (
    tenant_id  bigint NOT NULL,
    project_id bigint NOT NULL,
    day        date NOT NULL,
    PRIMARY KEY (tenant_id, project_id, day),
    FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE imports (
    tenant_id          bigint NOT NULL REFERENCES tenants (id),
    id                 bigint GENERATED ALWAYS AS IDENTITY,
    provider_id        bigint NOT NULL,
    file_name          text NOT NULL,
    file_size          bigint NOT NULL CHECK (file_size >= 0),
    -- Known once the whole file has been read; NULL for an import that failed before.
    file_sha256        bytea CHECK (length(file_sha256) = 32),
    format             text NOT NULL,
    encoding           text,
    on_duplicate       text NOT NULL CHECK (on_duplicate IN ('skip', 'update')),
    options            jsonb NOT NULL DEFAULT '{}',
    -- 'running' is only ever seen inside the import's own transaction.
    status             text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    total              bigint NOT NULL DEFAULT 0,
    inserted           bigint NOT NULL DEFAULT 0,
    updated            bigint NOT NULL DEFAULT 0,
    duplicate_in_file  bigint NOT NULL DEFAULT 0,
    duplicate_existing bigint NOT NULL DEFAULT 0,
    invalid            bigint NOT NULL DEFAULT 0,
    dnc                bigint NOT NULL DEFAULT 0,
    rejects_path       text,
    error              text,
    created_by         bigint,
    started_at         timestamptz NOT NULL,
    finished_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, provider_id) REFERENCES providers (tenant_id, id),
    -- The counts are the import's receipt: a succeeded import accounts for every row.
    CHECK (status <> 'succeeded'
           OR total = inserted + updated + duplicate_in_file + duplicate_existing + invalid + dnc)
);
CREATE INDEX imports_file_idx ON imports (tenant_id, file_sha256);

CREATE TABLE phone_numbers (
    tenant_id        bigint NOT NULL,
    -- E.164 digits without the '+', e.g. 79161234567.
    phone            bigint NOT NULL CHECK (phone BETWEEN 1000 AND 999999999999999),
    provider_id      bigint NOT NULL,
    geo_id           bigint,
    project_id       bigint,
    status           smallint NOT NULL DEFAULT 0,
    attempts         smallint NOT NULL DEFAULT 0,
    next_eligible_at timestamptz,
    allocated_at     timestamptz,
    leased_until     timestamptz,
    last_called_at   timestamptz,
    exported_at      timestamptz,
    -- The import that first brought the number, and the one that last wrote it (an
    -- update-policy re-import); the latter tells an import its own earlier rows apart.
    import_id        bigint NOT NULL,
    last_import_id   bigint NOT NULL,
    -- The provider's other columns, by header name.
    attributes       jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, phone)
) PARTITION BY HASH (phone);

DO $$
BEGIN
    FOR i IN 0..15 LOOP
        EXECUTE format(
            'CREATE TABLE phone_numbers_p%s PARTITION OF phone_numbers FOR VALUES WITH (MODULUS 16, REMAINDER %s)',
            lpad(i::text, 2, '0'), i);
    END LOOP;
END $$;

-- Only numbers held by a project are indexed here, so an import of fresh numbers pays
-- for the primary key alone.
CREATE INDEX phone_numbers_project_idx
    ON phone_numbers (tenant_id, project_id, status) WHERE project_id IS NOT NULL;

CREATE TYPE number_event_kind AS ENUM
    ('imported', 'updated', 'allocated', 'exported', 'leased', 'called',
     'status_changed', 'released', 'dnc_added', 'erased');

CREATE SEQUENCE number_events_id_seq AS bigint;
CREATE TABLE number_events (
    tenant_id     bigint NOT NULL,
    id            bigint NOT NULL DEFAULT nextval('number_events_id_seq'),
    at            timestamptz NOT NULL DEFAULT now(),
    phone         bigint NOT NULL,
    kind          number_event_kind NOT NULL,
    project_id    bigint,
    provider_id   bigint,
    geo_id        bigint,
    status_from   smallint,
    status_to     smallint,
    import_id     bigint,
    call_id       text,
    disposition   text,
    duration_s    integer CHECK (duration_s >= 0),
    actor_user_id bigint,
    data          jsonb,
    PRIMARY KEY (tenant_id, phone, at, id)
) PARTITION BY RANGE (at);
ALTER SEQUENCE number_events_id_seq OWNED BY number_events.id;
CREATE INDEX number_events_project_idx ON number_events (tenant_id, project_id, at);
CREATE TABLE number_events_default PARTITION OF number_events DEFAULT;

CREATE SEQUENCE audit_log_id_seq AS bigint;
CREATE TABLE audit_log (
    tenant_id      bigint NOT NULL,
    id             bigint NOT NULL DEFAULT nextval('audit_log_id_seq'),
    at             timestamptz NOT NULL DEFAULT now(),
    actor_user_id  bigint,
    actor_token_id bigint,
    -- Who acted when there is no user: 'cli', 'job:allocation', 'sftp:partner-code'.
    actor_label    text NOT NULL,
    action         text NOT NULL,
    entity         text NOT NULL,
    entity_id      text,
    before         jsonb,
    after          jsonb,
    request_id     text,
    address        inet,
    PRIMARY KEY (tenant_id, at, id)
) PARTITION BY RANGE (at);
ALTER SEQUENCE audit_log_id_seq OWNED BY audit_log.id;
CREATE INDEX audit_log_entity_idx ON audit_log (tenant_id, entity, entity_id, at);
CREATE TABLE audit_log_default PARTITION OF audit_log DEFAULT;

-- The audit log is append-only. Privileges keep the application role out (issue 3); this
-- trigger also stops a superuser connection. Partition maintenance moves rows out of the
-- default partition and says so for its own transaction only.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('dialpool.partition_maintenance', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- Creates the monthly partitions of number_events and audit_log from the current month up
-- to months_ahead months later. Rows that already landed in the default partition for a
-- month being created are moved into it, so the job that calls this can run late.
-- Returns the names of the partitions it created.
CREATE FUNCTION dialpool_ensure_monthly_partitions(months_ahead integer DEFAULT 3)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    parent    text;
    month     date;
    next      date;
    part      text;
BEGIN
    IF months_ahead < 0 OR months_ahead > 120 THEN
        RAISE EXCEPTION 'months_ahead must be between 0 and 120, got %', months_ahead;
    END IF;
    PERFORM set_config('dialpool.partition_maintenance', 'on', true);
    FOREACH parent IN ARRAY ARRAY['number_events', 'audit_log'] LOOP
        FOR i IN 0..months_ahead LOOP
            month := (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => i))::date;
            next  := (month + interval '1 month')::date;
            part  := format('%s_%s', parent, to_char(month, 'YYYY_MM'));
            CONTINUE WHEN to_regclass(part) IS NOT NULL;
            -- Serialise with writers while rows move out of the default partition.
            EXECUTE format('LOCK TABLE %I IN SHARE ROW EXCLUSIVE MODE', parent);
            EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part, parent);
            EXECUTE format(
                'WITH moved AS (DELETE FROM %I WHERE at >= %L::timestamptz AND at < %L::timestamptz RETURNING *) '
                'INSERT INTO %I SELECT * FROM moved',
                parent || '_default', month::text || ' 00:00:00+00', next::text || ' 00:00:00+00', part);
            EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                parent, part, month::text || ' 00:00:00+00', next::text || ' 00:00:00+00');
            RETURN NEXT part;
        END LOOP;
    END LOOP;
    PERFORM set_config('dialpool.partition_maintenance', 'off', true);
END $$;

CREATE TABLE dnc_numbers (
    tenant_id bigint NOT NULL REFERENCES tenants (id),
    phone     bigint NOT NULL CHECK (phone BETWEEN 1000 AND 999999999999999),
    -- Where the entry came from: a file name, 'api', 'call outcome' ...
    source    text NOT NULL,
    reason    text,
    added_by  bigint,
    added_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, phone)
);

CREATE TABLE jobs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- NULL for platform jobs (partition maintenance); the queue is one table for all
    -- tenants so that a worker can take the next job with one SKIP LOCKED query.
    tenant_id    bigint REFERENCES tenants (id),
    kind         text NOT NULL,
    payload      jsonb NOT NULL DEFAULT '{}',
    status       text NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'dead', 'cancelled')),
    priority     smallint NOT NULL DEFAULT 0,
    run_at       timestamptz NOT NULL DEFAULT now(),
    attempts     integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 5 CHECK (max_attempts > 0),
    locked_by    text,
    locked_until timestamptz,
    progress     jsonb,
    last_error   text,
    -- At most one live job per key, e.g. 'schedule:7:2026-11-21T05:00:00Z'.
    unique_key   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz
);
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key) WHERE unique_key IS NOT NULL;
CREATE INDEX jobs_ready_idx ON jobs (priority DESC, run_at) WHERE status IN ('queued', 'running');

-- What a new tenant starts with: a geo per country, the default statuses and the
-- built-in roles.
CREATE FUNCTION dialpool_seed_tenant() RETURNS trigger LANGUAGE plpgsql AS $$
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

    INSERT INTO roles (tenant_id, name, permissions, built_in) VALUES
        (NEW.id, 'admin', ARRAY['numbers.read', 'numbers.write', 'projects.read', 'projects.write',
            'imports.create', 'exports.create', 'users.manage', 'audit.read', 'sftp.manage',
            'settings.manage', 'conversion.read', 'dnc.write'], true),
        (NEW.id, 'manager', ARRAY['numbers.read', 'numbers.write', 'projects.read',
            'imports.create', 'exports.create', 'conversion.read'], true),
        (NEW.id, 'viewer', ARRAY['numbers.read', 'projects.read', 'conversion.read'], true),
        (NEW.id, 'analyst', ARRAY['numbers.read', 'projects.read', 'conversion.read',
            'exports.create'], true);
    RETURN NEW;
END $$;
CREATE TRIGGER tenants_seed AFTER INSERT ON tenants
    FOR EACH ROW EXECUTE FUNCTION dialpool_seed_tenant();
