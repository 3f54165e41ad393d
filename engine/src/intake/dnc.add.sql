WITH listed AS (
   INSERT INTO dnc_numbers (tenant_id, phone, source, reason, added_by)
   VALUES ($1, $2, 'api', $3, $4) ON CONFLICT DO NOTHING RETURNING phone
), events AS (
   INSERT INTO number_events (tenant_id, phone, kind, project_id, provider_id, geo_id, status_from,
                              status_to, actor_user_id, data)
   SELECT $1, n.phone, 'dnc_added', n.project_id, n.provider_id, n.geo_id, n.status, n.status, $4,
          jsonb_build_object('source', 'api')
     FROM listed l JOIN phone_numbers n ON n.tenant_id = $1 AND n.phone = l.phone
)
SELECT FROM listed
