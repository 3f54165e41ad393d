WITH per_phone AS (
   SELECT o.phone, count(*) AS calls,
          (array_agg(o.status_to ORDER BY o.started_at DESC, o.call_id DESC))[1] AS last_status,
          max(o.started_at) AS last_started
     FROM outcome_new o GROUP BY o.phone
), decided AS (
   SELECT n.phone, n.project_id, pp.last_status, s.category::text AS category, s.cooldown,
          least(n.attempts + pp.calls, 32767)::int2 AS attempts,
          greatest(n.last_called_at, pp.last_started) AS last_called,
          -- A status without a maximum, on a number no project holds, has
          -- no limit: NULL must read as not finished.
          s.category IN ('success', 'failure', 'invalid', 'dnc')
            OR COALESCE(s.category IN ('retry', 'callback')
                AND n.attempts + pp.calls >= least(p.max_attempts, s.max_attempts), false) AS finished,
          COALESCE(p.on_final = 'release' AND NOT p.exclusive, false) AS releases
     FROM per_phone pp
     JOIN phone_numbers n ON n.tenant_id = $1 AND n.phone = pp.phone
     JOIN number_statuses s ON s.tenant_id = $1 AND s.id = pp.last_status
     LEFT JOIN projects p ON p.tenant_id = $1 AND p.id = n.project_id
)
UPDATE phone_numbers n
   SET status = d.last_status, attempts = d.attempts, last_called_at = d.last_called,
       leased_until = NULL, updated_at = now(),
       next_eligible_at = CASE
           WHEN d.finished AND NOT d.releases THEN 'infinity'::timestamptz
           WHEN d.category IN ('retry', 'callback') THEN d.last_called + d.cooldown
           WHEN d.category IN ('success', 'failure', 'invalid', 'dnc') THEN 'infinity'::timestamptz
           ELSE NULL END,
       project_id = CASE WHEN d.finished AND d.releases THEN NULL ELSE n.project_id END
  FROM decided d
 WHERE n.tenant_id = $1 AND n.phone = d.phone
RETURNING n.phone, d.project_id, d.last_status, d.finished AND d.releases AND d.project_id IS NOT NULL
