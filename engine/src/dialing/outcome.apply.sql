DELETE FROM outcome_staging s
 USING phone_numbers n
 WHERE n.tenant_id = $1 AND n.phone = s.phone
   AND n.project_id = COALESCE(s.project_id, n.project_id)
   AND CASE WHEN s.wall_clock THEN (s.started_at AT TIME ZONE 'UTC') AT TIME ZONE $2
            ELSE s.started_at END < n.allocated_at - interval '5 minutes'
   AND NOT EXISTS (SELECT FROM call_outcomes o WHERE o.tenant_id = $1 AND o.call_id = s.call_id)
RETURNING line, call_id, 'the call started before number +' || s.phone
          || ' was allocated to project ' || n.project_id || ' ('
          || to_char(n.allocated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC)'
