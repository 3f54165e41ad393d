WITH released AS (
   UPDATE phone_numbers n SET project_id = NULL, allocated_at = NULL, leased_until = NULL,
          updated_at = now()
     FROM bulk_selection b, phone_numbers old, projects p
    WHERE n.tenant_id = $1 AND n.phone = b.phone
      AND old.tenant_id = n.tenant_id AND old.phone = n.phone
      AND p.tenant_id = n.tenant_id AND p.id = old.project_id AND NOT p.exclusive
      AND (n.leased_until IS NULL OR n.leased_until <= now())
   RETURNING n.phone, old.project_id, n.provider_id, n.geo_id, n.status
)
INSERT INTO number_events (tenant_id, phone, kind, project_id, provider_id, geo_id, status_from,
                           status_to, actor_user_id, data)
SELECT $1, phone, 'released', project_id, provider_id, geo_id, status, status, $2,
       jsonb_build_object('reason', 'bulk release')
  FROM released
