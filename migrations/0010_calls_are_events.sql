-- A call is stored once: its `call_outcomes` row is the number's `called` event. Writing
-- a second copy into `number_events` doubled the cost of every outcome file (a million
-- calls were two million-row inserts with their indexes) and kept the same fact twice.
-- History and conversion read calls from here; provider and geo are copied at the time
-- of the call so conversion never joins the numbers table.
ALTER TABLE call_outcomes
    ADD COLUMN provider_id   bigint,
    ADD COLUMN geo_id        bigint,
    ADD COLUMN actor_user_id bigint;

UPDATE call_outcomes o SET provider_id = n.provider_id, geo_id = n.geo_id
  FROM phone_numbers n
 WHERE n.tenant_id = o.tenant_id AND n.phone = o.phone;

DELETE FROM number_events WHERE kind = 'called';

-- The reference to tenants ran a trigger per stored call (a third of a million-row file's
-- insert); like number_events, the table carries the tenant without one.
ALTER TABLE call_outcomes DROP CONSTRAINT call_outcomes_tenant_id_fkey;
