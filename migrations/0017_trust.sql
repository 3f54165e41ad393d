-- Exports say how many numbers the do-not-call gate kept out of the file.
ALTER TABLE exports ADD COLUMN withheld_dnc bigint CHECK (withheld_dnc >= 0);

-- The time zones a number rings in, from the number itself (libphonenumber's prefix map,
-- see engine/src/phone/zones.rs): a set of zones has a stable id, and calling hours hold
-- only when they hold in every zone of the set. A small shared table (a reference table
-- on Citus), written by the engine as imports meet new sets.
CREATE TABLE phone_zone_sets (
    id    integer PRIMARY KEY CHECK (id > 0),
    zones text[] NOT NULL CHECK (cardinality(zones) > 0)
);
-- NULL for numbers stored before this column: they are timed by their geo's zone, as
-- before, until they are imported again.
ALTER TABLE phone_numbers ADD COLUMN zone_set integer;

-- An upload whose import failed for good no longer blocks the same content: it is marked
-- `failed`, and the next upload of that content is imported.
ALTER TABLE sftp_uploads DROP CONSTRAINT sftp_uploads_outcome_check,
    ADD CONSTRAINT sftp_uploads_outcome_check CHECK (outcome IN ('queued', 'duplicate', 'failed'));

-- Where a running export writes until it is complete, so that one whose process died is
-- cleaned up (see engine/src/export.rs, fail_abandoned).
ALTER TABLE exports ADD COLUMN partial_path text;
