WITH changed AS (
   UPDATE phone_numbers n
      SET status = s.id, leased_until = NULL, updated_at = now(),
          next_eligible_at = CASE
              WHEN s.category IN ('success', 'failure', 'invalid', 'dnc') THEN 'infinity'::timestamptz
              WHEN s.category IN ('retry', 'callback') THEN now()
              ELSE NULL END
     FROM bulk_selection b, number_statuses s, phone_numbers old
    WHERE n.tenant_id = $1 AND n.phone = b.phone AND s.tenant_id = $1 AND s.id = $2
      AND old.tenant_id = n.tenant_id AND old.phone = n.phone AND n.status <> $2
   RETURNING n.phone, n.project_id, n.provider_id, n.geo_id, old.status AS status_from
)
INSERT INTO number_events (tenant_id, phone, kind, project_id, provider_id, geo_id, status_from,
                           status_to, actor_user_id, data)
SELECT $1, phone, 'status_changed', project_id, provider_id, geo_id, status_from, $2, $3,
       jsonb_build_object('source', $4::text)
  FROM changed
