WITH r AS (
    -- The most specific rule, whole: the geo's own, its country's, the default. Geo 0
    -- stands for numbers without a geo, timed in the project's zone.
    SELECT pl.id, ($3::timestamptz AT TIME ZONE pl.time_zone)::time AS local,
           COALESCE(CASE WHEN own.id IS NOT NULL THEN own.start_local WHEN ctry.id IS NOT NULL THEN ctry.start_local
                ELSE def.start_local END, '08:00') AS start_local,
           COALESCE(CASE WHEN own.id IS NOT NULL THEN own.end_local WHEN ctry.id IS NOT NULL THEN ctry.end_local
                ELSE def.end_local END, '21:00') AS end_local,
           CASE WHEN own.id IS NOT NULL THEN own.max_calls_24h WHEN ctry.id IS NOT NULL THEN ctry.max_calls_24h
                ELSE def.max_calls_24h END AS cap
      FROM (SELECT g.id, g.country, g.time_zone FROM geos g WHERE g.tenant_id = $1
            UNION ALL SELECT 0, NULL, $2::text) pl
      LEFT JOIN calling_hours own ON own.tenant_id = $1 AND own.geo_id = pl.id
      LEFT JOIN (SELECT h.*, cg.country FROM calling_hours h
                   JOIN geos cg ON cg.tenant_id = h.tenant_id AND cg.id = h.geo_id AND cg.region IS NULL
                  WHERE h.tenant_id = $1) ctry ON ctry.country = pl.country
      LEFT JOIN calling_hours def ON def.tenant_id = $1 AND def.geo_id IS NULL
), w AS (
    SELECT start_local, end_local, (row_number() OVER (ORDER BY start_local, end_local))::int4 AS rule
      FROM (SELECT DISTINCT start_local, end_local FROM r) d
), d AS (
    SELECT w.rule FROM r JOIN w USING (start_local, end_local) WHERE r.id = 0
), rw AS (
    SELECT r.id, w.rule FROM r JOIN w USING (start_local, end_local)
), open_sets AS (
    -- 24:00 is a time of its own in PostgreSQL, later than any other.
    SELECT w.rule::int8 * 2147483648 + z.id AS key
      FROM w CROSS JOIN phone_zone_sets z
     WHERE NOT EXISTS (SELECT FROM unnest(z.zones) AS zone(name)
                        WHERE NOT (($3::timestamptz AT TIME ZONE zone.name)::time >= w.start_local
                                   AND ($3::timestamptz AT TIME ZONE zone.name)::time < w.end_local))
)
SELECT COALESCE((SELECT array_agg(id) FROM r WHERE id <> 0 AND local >= start_local AND local < end_local),
                '{}') AS open_geos,
       COALESCE((SELECT local >= start_local AND local < end_local FROM r WHERE id = 0), false) AS no_geo_open,
       COALESCE((SELECT array_agg(id ORDER BY id) FROM r WHERE cap IS NOT NULL), '{}') AS cap_geos,
       COALESCE((SELECT array_agg(cap ORDER BY id) FROM r WHERE cap IS NOT NULL), '{}') AS caps,
       COALESCE((SELECT array_agg(rw.id ORDER BY rw.id) FROM rw, d WHERE rw.id <> 0 AND rw.rule <> d.rule), '{}')
           AS rule_geos,
       COALESCE((SELECT array_agg(rw.rule ORDER BY rw.id) FROM rw, d WHERE rw.id <> 0 AND rw.rule <> d.rule), '{}')
           AS rule_of_geo,
       (SELECT rule FROM d) AS default_rule,
       COALESCE((SELECT array_agg(key) FROM open_sets), '{}') AS open_keys
