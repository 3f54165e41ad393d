WITH p AS (SELECT * FROM unnest($2::bigint[], $3::timestamptz[]) AS p(id, day_start)),
events AS (
   SELECT e.project_id, count(*) FILTER (WHERE e.kind = 'allocated') AS allocated,
          count(*) FILTER (WHERE e.kind = 'leased') AS leased
     FROM number_events e JOIN p ON p.id = e.project_id
    WHERE e.tenant_id = $1 AND e.at >= $4 AND e.at >= p.day_start
      AND e.kind IN ('allocated', 'leased')
    GROUP BY e.project_id),
calls AS (
   SELECT o.project_id, count(*) AS dialed,
          count(*) FILTER (WHERE o.answered_at IS NOT NULL
                              OR s.category IN ('success', 'failure', 'in_work', 'callback', 'dnc'))
              AS contacted,
          count(*) FILTER (WHERE s.category = 'success') AS success
     FROM call_outcomes o
     JOIN p ON p.id = o.project_id
     JOIN number_statuses s ON s.tenant_id = o.tenant_id AND s.id = o.status_to
    WHERE o.tenant_id = $1 AND o.started_at >= $4 AND o.started_at >= p.day_start
    GROUP BY o.project_id)
SELECT p.id, COALESCE(e.allocated, 0), COALESCE(e.leased, 0), COALESCE(c.dialed, 0),
       COALESCE(c.contacted, 0), COALESCE(c.success, 0)
  FROM p LEFT JOIN events e ON e.project_id = p.id LEFT JOIN calls c ON c.project_id = p.id
