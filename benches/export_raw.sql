-- The raw limit of an export: the same columns, joins, escaping and order as the export's
-- file, straight from the table. {project} is replaced by the benchmark scripts.
SELECT n.phone, pr.code AS provider, g.code AS geo, s.code AS status, n.attempts, n.allocated_at,
       CASE WHEN left(n.attributes->>'name', 1) IN ('=', '+', '-', '@', chr(9), chr(13)) THEN '''' || (n.attributes->>'name') ELSE n.attributes->>'name' END AS name,
       CASE WHEN left(n.attributes::text, 1) IN ('=', '+', '-', '@', chr(9), chr(13)) THEN '''' || n.attributes::text ELSE n.attributes::text END AS attributes
  FROM phone_numbers n
  JOIN providers pr ON pr.tenant_id = n.tenant_id AND pr.id = n.provider_id
  JOIN number_statuses s ON s.tenant_id = n.tenant_id AND s.id = n.status
  LEFT JOIN geos g ON g.tenant_id = n.tenant_id AND g.id = n.geo_id
 WHERE n.tenant_id = 1 AND n.project_id = {project}
 ORDER BY n.phone
