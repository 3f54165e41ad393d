-- The expired leases are found by the leased index and given back by key: as
-- `phone IN (subquery)` the generic plan hash-joined them against a scan of every stored
-- number (1 s a lease at 2M numbers; benches/scale.sh). They are read in the index's
-- order, at most 1000 a lease (the rest come back with the next leases): an ordered
-- index scan marks the entries of leases already given back as dead, where a bitmap scan
-- read them all again on every lease (about 1 s a lease after a day of 1M leases).
WITH expired AS (
    UPDATE phone_numbers n SET leased_until = NULL
     WHERE n.tenant_id = $1 AND n.phone = ANY (ARRAY(
           SELECT phone FROM phone_numbers WHERE tenant_id = $1 AND project_id = $2 AND leased_until <= $3
            ORDER BY leased_until LIMIT 1000
              FOR UPDATE SKIP LOCKED))
)
SELECT p.status, p.time_zone, p.max_attempts,
       EXISTS (SELECT FROM project_holidays h WHERE h.tenant_id = p.tenant_id AND h.project_id = p.id
                  AND h.day = ($3::timestamptz AT TIME ZONE p.time_zone)::date) AS holiday,
       EXISTS (SELECT FROM project_schedules s WHERE s.tenant_id = p.tenant_id AND s.project_id = p.id
                  AND s.weekday = extract(isodow FROM $3::timestamptz AT TIME ZONE p.time_zone)
                  AND ($3::timestamptz AT TIME ZONE p.time_zone)::time >= s.starts_at
                  AND (($3::timestamptz AT TIME ZONE p.time_zone)::time < s.ends_at
                       OR s.ends_at = '24:00'::time)) AS in_window,
       (SELECT version FROM calling_rules_version) AS rules_version
  FROM projects p WHERE p.tenant_id = $1 AND p.id = $2 AND p.deleted_at IS NULL
