SELECT p.id, p.name, p.status, p.daily_quota, p.max_attempts, p.priority, p.allocation_order, p.learning,
      d.day, extract(isodow FROM d.day)::int2 AS weekday,
      EXISTS (SELECT FROM project_schedules s WHERE s.tenant_id = p.tenant_id AND s.project_id = p.id
                  AND s.weekday = extract(isodow FROM d.day)) AS scheduled,
      EXISTS (SELECT FROM project_holidays h WHERE h.tenant_id = p.tenant_id AND h.project_id = p.id
                  AND h.day = d.day) AS holiday,
      COALESCE(f.allocated, 0)::bigint AS filled
 FROM projects p
CROSS JOIN LATERAL (SELECT COALESCE($2::date, ($3::timestamptz AT TIME ZONE p.time_zone)::date) AS day) d
 LEFT JOIN project_fills f ON f.tenant_id = p.tenant_id AND f.project_id = p.id AND f.day = d.day
WHERE p.tenant_id = $1 AND p.deleted_at IS NULL AND ($4::bigint[] IS NULL OR p.id = ANY($4))
ORDER BY p.priority DESC, p.id
