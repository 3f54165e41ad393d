-- Exports: each run with its filters, counts and file, for the history, the tenant's
-- daily row limit and, later, downloads and SFTP delivery.
CREATE TABLE exports (
    tenant_id   bigint NOT NULL REFERENCES tenants (id),
    id          bigint GENERATED ALWAYS AS IDENTITY,
    project_id  bigint NOT NULL,
    format      text NOT NULL,
    -- Filters and file options as the caller gave them.
    options     jsonb NOT NULL DEFAULT '{}',
    status      text NOT NULL CHECK (status IN ('succeeded', 'failed')),
    rows        bigint NOT NULL DEFAULT 0,
    bytes       bigint NOT NULL DEFAULT 0,
    file_name   text,
    error       text,
    created_by  bigint,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    PRIMARY KEY (tenant_id, id)
);
-- The daily limit sums a tenant's rows of one day.
CREATE INDEX exports_tenant_day_idx ON exports (tenant_id, started_at);
