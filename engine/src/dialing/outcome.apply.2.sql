WITH listed AS (
   INSERT INTO dnc_numbers (tenant_id, phone, source, reason, added_by)
   SELECT DISTINCT ON (o.phone) $1, o.phone, 'call outcome', 'call ' || o.call_id || ': ' || o.disposition, $2
     FROM outcome_new o JOIN disposition_map m ON m.tenant_id = $1 AND m.disposition = o.disposition
    WHERE m.dnc
    ORDER BY o.phone, o.started_at
   ON CONFLICT DO NOTHING
   RETURNING phone
)
INSERT INTO number_events (tenant_id, phone, kind, project_id, provider_id, geo_id, status_from, status_to,
                           actor_user_id, data)
SELECT $1, l.phone, 'dnc_added', n.project_id, n.provider_id, n.geo_id, n.status, n.status, $2,
       jsonb_build_object('source', 'call outcome')
  FROM listed l JOIN phone_numbers n ON n.tenant_id = $1 AND n.phone = l.phone
