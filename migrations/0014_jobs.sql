-- The durable job queue. A job is enqueued in the transaction of the change that asks for
-- it; workers in any `dialpool serve` claim it with FOR UPDATE SKIP LOCKED and hold a
-- lock that expires, so a worker that dies leaves the job to be claimed again. A job
-- whose work has a transaction of its own is marked succeeded inside that transaction:
-- either both commit or neither does, so a retry never doubles the effect.
--
-- 0001 sketched a jobs table that no code ever wrote; this one replaces it.
DROP TABLE jobs;
CREATE TABLE jobs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- NULL for the installation's own work (conversion refresh, partitions), which spans
    -- tenants; platform administrators see it.
    tenant_id        bigint REFERENCES tenants (id),
    -- Kinds are added with their handlers (SFTP transfers and retention come later).
    kind             text NOT NULL CHECK (kind IN ('import', 'export', 'allocation', 'conversion_refresh',
                                                   'outcome_import', 'partition_maintenance')),
    args             jsonb NOT NULL DEFAULT '{}',
    -- queued → running → succeeded; running → retrying (back-off) → running …; after
    -- max_attempts, dead; cancelled by a user. A running job whose lock expired is
    -- claimed again as it is.
    state            text NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'running', 'retrying', 'succeeded', 'dead', 'cancelled')),
    priority         smallint NOT NULL DEFAULT 0,
    run_at           timestamptz NOT NULL DEFAULT now(),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts     integer NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),
    -- At most one job per key, ever: a schedule's fire time, a file's content hash.
    unique_key       text,
    locked_by        text,
    locked_until     timestamptz,
    cancel_requested boolean NOT NULL DEFAULT false,
    -- {"done": n, "total": n, "unit": "rows", "message": "…"} as the worker reports it.
    progress         jsonb NOT NULL DEFAULT '{}',
    result           jsonb,
    -- One entry per failed attempt: {"attempt": n, "at": "…", "error": "…"}.
    errors           jsonb NOT NULL DEFAULT '[]',
    schedule_id      bigint,
    created_by       bigint,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    CHECK ((state = 'running') = (locked_by IS NOT NULL))
);
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key) WHERE unique_key IS NOT NULL;
-- What a worker claims: due jobs, and running ones whose worker stopped renewing its lock.
CREATE INDEX jobs_due ON jobs (run_at) WHERE state IN ('queued', 'retrying');
CREATE INDEX jobs_locked ON jobs (locked_until) WHERE state = 'running';
CREATE INDEX jobs_tenant_idx ON jobs (COALESCE(tenant_id, 0), id DESC);

-- Cron schedules: each fire time enqueues one job (unique key schedule:<id>:<fire time>),
-- however many `dialpool serve` processes see it. Edited without a restart: every
-- process reads the table on each tick.
CREATE TABLE schedules (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- NULL for the installation's own schedules, as for jobs.
    tenant_id   bigint REFERENCES tenants (id),
    name        text NOT NULL,
    -- Five fields (minute hour day-of-month month day-of-week), or six with seconds first.
    cron        text NOT NULL,
    time_zone   text NOT NULL DEFAULT 'UTC',
    kind        text NOT NULL,
    args        jsonb NOT NULL DEFAULT '{}',
    enabled     boolean NOT NULL DEFAULT true,
    -- Set for the defaults the system keeps (per project allocation, conversion,
    -- partitions); a user's own schedules have none.
    system_key  text,
    -- The last fire time a job was enqueued for; the next tick starts after it.
    last_fire_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (kind IN ('import', 'export', 'allocation', 'conversion_refresh', 'outcome_import',
                    'partition_maintenance'))
);
CREATE UNIQUE INDEX schedules_name_key ON schedules (COALESCE(tenant_id, 0), lower(name));
CREATE UNIQUE INDEX schedules_system_key ON schedules (system_key) WHERE system_key IS NOT NULL;
