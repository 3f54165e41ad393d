SELECT n.provider_id, pr.code AS provider, n.geo_id, g.code AS geo, n.project_id, p.name AS project,
      n.status, s.code AS status_code, s.category::text AS category, n.attempts,
      NULLIF(n.next_eligible_at, 'infinity') AS next_eligible_at,
      n.allocated_at, n.leased_until, n.created_at
 FROM phone_numbers n
 JOIN providers pr ON pr.tenant_id = n.tenant_id AND pr.id = n.provider_id
 JOIN number_statuses s ON s.tenant_id = n.tenant_id AND s.id = n.status
 LEFT JOIN geos g ON g.tenant_id = n.tenant_id AND g.id = n.geo_id
 LEFT JOIN projects p ON p.tenant_id = n.tenant_id AND p.id = n.project_id
WHERE n.tenant_id = $1 AND n.phone = $2
