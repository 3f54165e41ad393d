WITH listed AS (
   INSERT INTO dnc_numbers (tenant_id, phone, source, reason, added_by)
   SELECT $1, b.phone, 'bulk action', $2, $3 FROM bulk_selection b
   ON CONFLICT DO NOTHING
   RETURNING phone
)
INSERT INTO number_events (tenant_id, phone, kind, project_id, provider_id, geo_id, status_from,
                           status_to, actor_user_id, data)
SELECT $1, l.phone, 'dnc_added', n.project_id, n.provider_id, n.geo_id, n.status, n.status, $3,
       jsonb_build_object('source', 'bulk action')
  FROM listed l JOIN phone_numbers n ON n.tenant_id = $1 AND n.phone = l.phone
