-- Look-back windows: what a number seen before becomes when a provider sends it again.
-- A provider's rule (NULL: skip, as before), which an import may override; the import
-- counts the numbers it refreshed; a refreshed number remembers when, and its history
-- says which rule applied.
ALTER TABLE providers ADD COLUMN reentry jsonb;
-- When the number last came back fresh; the window is measured from here (or from when
-- it was first stored).
ALTER TABLE phone_numbers ADD COLUMN refreshed_at timestamptz;
ALTER TABLE imports ADD COLUMN refreshed bigint NOT NULL DEFAULT 0;
ALTER TABLE imports DROP CONSTRAINT imports_check;
ALTER TABLE imports ADD CONSTRAINT imports_check CHECK (
    status <> 'succeeded'
    OR total = inserted + updated + refreshed + duplicate_in_file + duplicate_existing + invalid + dnc + erased);
ALTER TYPE number_event_kind ADD VALUE IF NOT EXISTS 'refreshed';
