-- The conversion refresh adds what each new row contributes to its cells instead of
-- recomputing every (project, day) a new row touches: after a busy day, 100k more calls
-- re-read the whole day (79 s at 1M stored numbers, minutes at 10M).
--
-- Adding needs every source row counted exactly once, whatever order writers commit in
-- and whatever clock stamped them. Each row records the transaction that wrote it; a
-- refresh counts the rows committed in its own snapshot and not in the previous
-- refresh's (kept in conversion_state). No clock is involved, so a dialer's skewed clock,
-- an allocation dated in the past or an import committing an hour after it began are all
-- counted once. Transaction ids are kept as bigint (the 64-bit id, cast through text):
-- a BRIN over them narrows the read to the recent blocks, which xid8 has no BRIN class for.
-- Rows stored before this migration have none; only a full refresh reads them.
ALTER TABLE number_events ADD COLUMN xact_id bigint;
ALTER TABLE number_events ALTER COLUMN xact_id SET DEFAULT pg_current_xact_id()::text::bigint;
ALTER TABLE call_outcomes ADD COLUMN xact_id bigint;
ALTER TABLE call_outcomes ALTER COLUMN xact_id SET DEFAULT pg_current_xact_id()::text::bigint;
-- An export counts when it succeeds: set by the statement that marks it so.
ALTER TABLE exports ADD COLUMN done_xact_id bigint;
CREATE INDEX number_events_xact_brin ON number_events USING brin (xact_id);
CREATE INDEX call_outcomes_xact_brin ON call_outcomes USING brin (xact_id);

-- A cell's median cannot be added to; its histogram can (the buckets of
-- provider_outcomes.success_hours), and a median over any roll-up is read from the sum.
ALTER TABLE project_conversions ADD COLUMN success_hours bigint[] NOT NULL DEFAULT '{}';
ALTER TABLE project_conversions DROP COLUMN success_hours_median;

-- The snapshot of the last refresh: what it counted.
ALTER TABLE conversion_state ADD COLUMN snapshot pg_snapshot;

-- The new columns start empty: the next refresh is a full one.
UPDATE conversion_state SET watermark = NULL;
