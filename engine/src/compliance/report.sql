-- The calls of one project in a period, each in every zone its number rings in, with the
-- calling-hours rule of its geo (its own, its country's, the tenant default, 08:00-21:00).
-- $1 tenant, $2 project, $3 from, $4 until. A call's number may be erased (phone 0): then
-- its geo's zone, else the project's, stands for it.
WITH p AS (
    SELECT time_zone FROM projects WHERE tenant_id = $1 AND id = $2
), rules AS (
    SELECT g.id AS geo_id,
           COALESCE(CASE WHEN own.id IS NOT NULL THEN own.start_local WHEN ctry.id IS NOT NULL THEN ctry.start_local
                ELSE def.start_local END, '08:00') AS start_local,
           COALESCE(CASE WHEN own.id IS NOT NULL THEN own.end_local WHEN ctry.id IS NOT NULL THEN ctry.end_local
                ELSE def.end_local END, '21:00') AS end_local
      FROM (SELECT id, country FROM geos WHERE tenant_id = $1 UNION ALL SELECT 0, NULL) g
      LEFT JOIN calling_hours own ON own.tenant_id = $1 AND own.geo_id = g.id
      LEFT JOIN (SELECT h.*, cg.country FROM calling_hours h
                   JOIN geos cg ON cg.tenant_id = h.tenant_id AND cg.id = h.geo_id AND cg.region IS NULL
                  WHERE h.tenant_id = $1) ctry ON ctry.country = g.country
      LEFT JOIN calling_hours def ON def.tenant_id = $1 AND def.geo_id IS NULL
), calls AS (
    SELECT o.call_id, o.started_at, o.phone, COALESCE(o.geo_id, 0) AS geo,
           COALESCE(zs.zones, ARRAY[COALESCE(g.time_zone, (SELECT time_zone FROM p))]) AS zones
      FROM call_outcomes o
      LEFT JOIN phone_numbers n ON n.tenant_id = o.tenant_id AND n.phone = o.phone AND o.phone <> 0
      LEFT JOIN phone_zone_sets zs ON zs.id = n.zone_set
      LEFT JOIN geos g ON g.tenant_id = o.tenant_id AND g.id = o.geo_id
     WHERE o.tenant_id = $1 AND o.project_id = $2 AND o.started_at >= $3 AND o.started_at < $4
)
SELECT c.call_id, c.started_at, c.phone, c.zones[1] AS zone,
       extract(hour FROM c.started_at AT TIME ZONE c.zones[1])::int AS local_hour,
       to_char(r.start_local, 'HH24:MI') AS allowed_from,
       CASE WHEN r.end_local = '24:00'::time THEN '24:00' ELSE to_char(r.end_local, 'HH24:MI') END AS allowed_until,
       (SELECT z FROM unnest(c.zones) z
         WHERE NOT ((c.started_at AT TIME ZONE z)::time >= r.start_local
                    AND (c.started_at AT TIME ZONE z)::time < r.end_local) LIMIT 1) AS outside_in,
       count(*) OVER (PARTITION BY c.phone ORDER BY c.started_at
                      RANGE BETWEEN interval '24 hours' PRECEDING AND CURRENT ROW) AS calls_in_24h
  FROM calls c JOIN rules r ON r.geo_id = c.geo
 ORDER BY c.started_at, c.call_id
