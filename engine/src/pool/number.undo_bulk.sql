-- Undo of bulk change $2 (which set status $3): numbers still in that status get back
-- their status and due time from before, each with a status_changed event.
WITH restored AS (
   UPDATE phone_numbers n
      SET status = c.status_from, next_eligible_at = c.next_eligible_at, updated_at = now()
     FROM bulk_change_numbers c
    WHERE c.tenant_id = $1 AND c.change_id = $2
      AND n.tenant_id = $1 AND n.phone = c.phone AND n.status = $3
   RETURNING n.phone, n.project_id, n.provider_id, n.geo_id, n.status AS status_to
)
INSERT INTO number_events (tenant_id, phone, kind, project_id, provider_id, geo_id, status_from,
                           status_to, actor_user_id, data)
SELECT $1, phone, 'status_changed', project_id, provider_id, geo_id, $3, status_to, $4,
       jsonb_build_object('source', 'undo')
  FROM restored
