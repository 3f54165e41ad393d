SELECT n.project_id, p.name AS project, pr.code AS provider, g.code AS geo, s.code AS status,
      s.category::text AS category, n.attempts, n.leased_until, n.attributes,
      EXISTS (SELECT FROM dnc_numbers d WHERE d.tenant_id = n.tenant_id AND d.phone = n.phone) AS dnc
 FROM phone_numbers n
 JOIN providers pr ON pr.tenant_id = n.tenant_id AND pr.id = n.provider_id
 JOIN number_statuses s ON s.tenant_id = n.tenant_id AND s.id = n.status
 LEFT JOIN geos g ON g.tenant_id = n.tenant_id AND g.id = n.geo_id
 LEFT JOIN projects p ON p.tenant_id = n.tenant_id AND p.id = n.project_id
WHERE n.tenant_id = $1 AND n.phone = $2
  AND ($3::bigint[] IS NULL OR n.project_id = ANY($3) OR n.provider_id = ANY($4))
