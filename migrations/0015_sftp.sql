-- Partner SFTP accounts: one per provider (or several), each with its own directory
-- tree under the server's data directory. A username is global: the SSH login names no
-- tenant.
CREATE TABLE sftp_accounts (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id      bigint NOT NULL REFERENCES tenants (id),
    provider_id    bigint NOT NULL,
    username       text NOT NULL CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,62}$'),
    -- Argon2id; NULL when the account signs in with keys only.
    password_hash  text,
    -- OpenSSH public key lines ("ssh-ed25519 AAAA… comment").
    public_keys    text[] NOT NULL DEFAULT '{}',
    quota_bytes    bigint NOT NULL DEFAULT 10737418240 CHECK (quota_bytes > 0),
    quota_files    integer NOT NULL DEFAULT 1000 CHECK (quota_files > 0),
    -- How its files import: region, format, encoding, on_duplicate (as the import job takes).
    import_options jsonb NOT NULL DEFAULT '{}',
    enabled        boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_login_at  timestamptz,
    last_upload_at timestamptz,
    FOREIGN KEY (tenant_id, provider_id) REFERENCES providers (tenant_id, id)
);
CREATE UNIQUE INDEX sftp_accounts_username_key ON sftp_accounts (username);

-- Every completed upload: queued for import, or a duplicate of content already queued.
CREATE TABLE sftp_uploads (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   bigint NOT NULL REFERENCES tenants (id),
    account_id  bigint NOT NULL REFERENCES sftp_accounts (id) ON DELETE CASCADE,
    file_name   text NOT NULL,
    bytes       bigint NOT NULL,
    sha256      bytea NOT NULL CHECK (length(sha256) = 32),
    outcome     text NOT NULL CHECK (outcome IN ('queued', 'duplicate')),
    job_id      bigint,
    received_at timestamptz NOT NULL DEFAULT now()
);
-- Content is imported once per account, whatever the file is called.
CREATE UNIQUE INDEX sftp_uploads_content_key ON sftp_uploads (account_id, sha256) WHERE outcome = 'queued';
CREATE INDEX sftp_uploads_account_idx ON sftp_uploads (account_id, id DESC);
