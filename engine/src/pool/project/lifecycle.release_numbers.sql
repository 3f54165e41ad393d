WITH released AS (
   UPDATE phone_numbers n SET project_id = NULL, allocated_at = NULL, leased_until = NULL, updated_at = now()
     FROM number_statuses s
    WHERE n.tenant_id = $1 AND n.project_id = $2 AND s.tenant_id = n.tenant_id AND s.id = n.status
      AND $3::text <> 'none'
      AND (n.leased_until IS NULL OR n.leased_until <= now())
      AND ($3::text = 'all' OR (s.category = 'fresh' AND n.attempts = 0))
   RETURNING n.phone, n.provider_id, n.geo_id, n.status
), events AS (
   INSERT INTO number_events (tenant_id, phone, kind, project_id, provider_id, geo_id, status_from,
                              status_to, actor_user_id, data)
   SELECT $1, phone, 'released', $2, provider_id, geo_id, status, status, $4,
          jsonb_build_object('reason', $5::text)
     FROM released
)
SELECT (SELECT count(*) FROM released) AS released,
       (SELECT count(*) FROM phone_numbers WHERE tenant_id = $1 AND project_id = $2)
         - (SELECT count(*) FROM released) AS kept
