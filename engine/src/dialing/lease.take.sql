WITH due AS (
   SELECT n.phone FROM phone_numbers n
    WHERE {eligible} AND n.next_eligible_at <= $3
    ORDER BY n.next_eligible_at LIMIT {count} FOR UPDATE SKIP LOCKED
), fresh AS (
   SELECT n.phone FROM phone_numbers n
    WHERE {eligible} AND n.next_eligible_at IS NULL
    -- In the lease index's order: without it a LIMIT over the 16 partitions takes each
    -- partition's cheapest whole scan, a bitmap of every number the project holds.
    ORDER BY n.next_eligible_at, n.phone LIMIT {count} FOR UPDATE SKIP LOCKED
), leased AS (
   UPDATE phone_numbers n SET leased_until = $14, updated_at = now()
     -- Due numbers first; fresh ones are read (and locked) only for what is left.
     FROM (SELECT phone FROM due UNION ALL SELECT phone FROM fresh LIMIT $4) p
    WHERE n.tenant_id = $1 AND n.phone = p.phone
   RETURNING n.phone, n.provider_id, n.geo_id, n.status, n.attempts, n.attributes
), logged AS (
   INSERT INTO number_events (tenant_id, at, phone, kind, project_id, provider_id, geo_id,
                              status_from, status_to, actor_user_id, data)
   SELECT $1, $3, phone, 'leased', $2, provider_id, geo_id, status, status, $15,
          jsonb_build_object('until', $14::timestamptz, 'token', $16::bigint)
     FROM leased
)
SELECT l.phone, l.provider_id, l.geo_id, s.code AS status, l.attempts, l.attributes
  FROM leased l JOIN number_statuses s ON s.tenant_id = $1 AND s.id = l.status
 ORDER BY l.phone
