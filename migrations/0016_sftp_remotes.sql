-- Remote SFTP hosts Dialpool signs in to: providers' servers to pull numbers or dialers'
-- outcome files from, and partners' servers to push exports to. Credentials are sealed
-- (AES-256-GCM) with the installation's secret key, which lives in configuration, not
-- here: a copy of the database alone opens no remote.
CREATE TABLE sftp_remotes (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id            bigint NOT NULL REFERENCES tenants (id),
    name                 text NOT NULL CHECK (name <> ''),
    host                 text NOT NULL CHECK (host ~ '^[A-Za-z0-9._:-]+$'),
    port                 integer NOT NULL DEFAULT 22 CHECK (port BETWEEN 1 AND 65535),
    username             text NOT NULL CHECK (username <> ''),
    password_sealed      bytea,
    private_key_sealed   bytea,
    -- The host key the administrator confirmed (OpenSSH public key line). Until there is
    -- one, transfers refuse; a key other than this one is refused, never learnt.
    host_key             text,
    -- The key the host offered at the last connection attempt, for the administrator to
    -- confirm by its fingerprint.
    offered_host_key     text,
    direction            text NOT NULL CHECK (direction IN ('pull_numbers', 'pull_outcomes', 'push_exports')),
    remote_dir           text NOT NULL DEFAULT '.',
    -- Shell-style glob on file names (`*.csv`, `leads_??.xlsx`).
    file_pattern         text NOT NULL DEFAULT '*',
    after_pull           text NOT NULL DEFAULT 'leave' CHECK (after_pull IN ('delete', 'move', 'leave')),
    move_to              text,
    -- Pulled numbers import as this provider.
    provider_id          bigint,
    -- As the import (or outcome import) job takes them: region, format, encoding, …
    import_options       jsonb NOT NULL DEFAULT '{}',
    enabled              boolean NOT NULL DEFAULT true,
    consecutive_failures integer NOT NULL DEFAULT 0,
    last_error           text,
    last_failure_at      timestamptz,
    last_success_at      timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, provider_id) REFERENCES providers (tenant_id, id),
    CHECK ((direction = 'pull_numbers') = (provider_id IS NOT NULL)),
    CHECK ((after_pull = 'move') = (move_to IS NOT NULL)),
    CHECK (password_sealed IS NOT NULL OR private_key_sealed IS NOT NULL)
);
CREATE UNIQUE INDEX sftp_remotes_name_key ON sftp_remotes (tenant_id, lower(name));

-- Every remote file pulled. Its fingerprint (name, size, modification time) keeps a
-- file left on the host from being pulled again; its content hash keeps the same
-- content under another name from being imported again.
CREATE TABLE sftp_remote_files (
    remote_id  bigint NOT NULL REFERENCES sftp_remotes (id) ON DELETE CASCADE,
    name       text NOT NULL,
    bytes      bigint NOT NULL,
    mtime      bigint NOT NULL,
    sha256     bytea NOT NULL CHECK (length(sha256) = 32),
    outcome    text NOT NULL CHECK (outcome IN ('queued', 'duplicate')),
    job_id     bigint,
    pulled_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (remote_id, name, bytes, mtime)
);
CREATE UNIQUE INDEX sftp_remote_files_content_key ON sftp_remote_files (remote_id, sha256) WHERE outcome = 'queued';

-- The transfer log: one row per pull or push attempt.
CREATE TABLE sftp_jobs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   bigint NOT NULL REFERENCES tenants (id),
    remote_id   bigint NOT NULL REFERENCES sftp_remotes (id) ON DELETE CASCADE,
    job_id      bigint,
    direction   text NOT NULL CHECK (direction IN ('pull', 'push')),
    status      text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
    files       integer NOT NULL DEFAULT 0,
    bytes       bigint NOT NULL DEFAULT 0,
    -- What moved (or was skipped, and why): [{"name", "bytes", "outcome"}].
    details     jsonb NOT NULL DEFAULT '[]',
    error       text,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX sftp_jobs_tenant_idx ON sftp_jobs (tenant_id, id DESC);
CREATE INDEX sftp_jobs_remote_idx ON sftp_jobs (remote_id, id DESC);

ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check
    CHECK (kind IN ('import', 'export', 'allocation', 'conversion_refresh', 'outcome_import',
                    'partition_maintenance', 'sftp_pull', 'sftp_push', 'retention'));
ALTER TABLE schedules DROP CONSTRAINT schedules_kind_check;
ALTER TABLE schedules ADD CONSTRAINT schedules_kind_check
    CHECK (kind IN ('import', 'export', 'allocation', 'conversion_refresh', 'outcome_import',
                    'partition_maintenance', 'sftp_pull', 'sftp_push', 'retention'));
