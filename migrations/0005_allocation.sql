-- Allocation: daily fills, the pool index, purged projects and archived events.

-- How many numbers a project was given on each of its local days. Allocation reads the
-- remaining quota here and adds to it in the same transaction, so a second run for the
-- same day finds nothing left to do.
CREATE TABLE project_fills (
    tenant_id  bigint NOT NULL,
    project_id bigint NOT NULL,
    day        date NOT NULL,
    allocated  integer NOT NULL CHECK (allocated >= 0),
    PRIMARY KEY (tenant_id, project_id, day),
    FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id) ON DELETE CASCADE
);

-- The shared pool, in the order allocation takes it: one cell (provider x geo x status x
-- attempts) at a time, newest first or, scanning backwards, oldest first. Only numbers no
-- project holds are in it, so it shrinks as the pool is handed out.
CREATE INDEX phone_numbers_pool_idx
    ON phone_numbers (tenant_id, provider_id, (COALESCE(geo_id, 0)), status, attempts, created_at DESC, phone)
    WHERE project_id IS NULL;

-- A purged project stays as a row (status deleted) so that the numbers an exclusive
-- project kept still name their holder; it no longer appears in the deleted list.
ALTER TABLE projects ADD COLUMN purged_at timestamptz;
ALTER TABLE projects ADD CONSTRAINT projects_purged_is_deleted CHECK (purged_at IS NULL OR deleted_at IS NOT NULL);

-- Events of purged projects: out of the partitions conversion reads, kept for audits.
CREATE TABLE number_events_archive (LIKE number_events INCLUDING DEFAULTS);
ALTER TABLE number_events_archive ADD COLUMN archived_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX number_events_archive_project_idx ON number_events_archive (tenant_id, project_id);

-- Restore brings a deleted project back as it was: active or paused.
ALTER TABLE projects ADD COLUMN deleted_from_status text CHECK (deleted_from_status IN ('active', 'paused'));
