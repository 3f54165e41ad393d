#!/usr/bin/env bash
# Conversion refresh over EVENTS source rows (default 10M: allocation and lease events
# and calls, spread over 50 projects, 4 providers, 10 geos, 20 imports and 60 days),
# against the raw limit measured in the same run on the same database: one SQL statement
# reading the source rows once and writing the same aggregates with GROUP BY (the
# project cells, and the provider scorecard's by geo, import and block with its
# histograms). Then an incremental refresh after 100k new calls.
#
#   benches/conversion.sh [EVENTS]
#
# Targets: full refresh / GROUP BY <= 1.0; incremental after 100k calls < 2 s.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS="${1:-10000000}"
DB=dialpool_bench_conversion
URL="postgres://postgres@127.0.0.1:5432/$DB"

scripts/setup.sh
cargo build --release --quiet -p dialpool-api
BIN=${CARGO_TARGET_DIR:-target}/release/dialpool

psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
DATABASE_URL=$URL "$BIN" migrate >/dev/null
# A fifth of the rows are allocations, a fifth leases, the rest calls; a number per
# allocation.
NUMBERS=$((EVENTS / 5))
CALLS=$((EVENTS - 2 * NUMBERS))
psql -q -v ON_ERROR_STOP=1 "$URL" <<SQL
INSERT INTO providers (tenant_id, code, name) SELECT 1, 'p' || i, 'P' || i FROM generate_series(1, 4) i;
INSERT INTO geos (tenant_id, country, region, name, time_zone)
  SELECT 1, 'RU', 'R' || i, 'Region ' || i, 'Europe/Moscow' FROM generate_series(1, 10) i;
INSERT INTO projects (tenant_id, name, time_zone, daily_quota)
  SELECT 1, 'Project ' || i, CASE WHEN i % 2 = 0 THEN 'Europe/Moscow' ELSE 'Asia/Tashkent' END, 100000
    FROM generate_series(1, 50) i;
CREATE TEMP TABLE ids AS SELECT array_agg(id ORDER BY id) AS providers,
  (SELECT array_agg(id ORDER BY id) FROM geos WHERE region IS NOT NULL) AS geos,
  (SELECT array_agg(id ORDER BY id) FROM projects) AS projects FROM providers;
INSERT INTO phone_numbers (tenant_id, phone, provider_id, geo_id, project_id, allocated_at, import_id, last_import_id)
  SELECT 1, 79000000000 + i, ids.providers[1 + i % 4], ids.geos[1 + i % 10], ids.projects[1 + i % 50],
         timestamptz '2026-09-01' + (i % 60) * interval '1 day', 1 + i % 20, 1 + i % 20
    FROM generate_series(1, $NUMBERS) i, ids;
-- Events and calls are written as they happen, so the tables are in time order (what
-- the refresh's BRIN indexes rely on).
INSERT INTO number_events (tenant_id, at, phone, kind, project_id, provider_id, geo_id, import_id)
  SELECT 1, at, phone, kind::number_event_kind, project_id, provider_id, geo_id, import_id
    FROM (SELECT allocated_at AS at, phone, 'allocated' AS kind, project_id, provider_id, geo_id, import_id
            FROM phone_numbers
          UNION ALL
          SELECT allocated_at + interval '2 hours', phone, 'leased', project_id, provider_id, geo_id, NULL
            FROM phone_numbers) e
   ORDER BY at;
INSERT INTO call_outcomes (tenant_id, call_id, phone, project_id, provider_id, geo_id, disposition, status_from,
                           status_to, started_at, answered_at, source, allocated_at, import_id, attempt)
  SELECT 1, 'c' || i, n.phone, n.project_id, n.provider_id, n.geo_id, 'X', 0,
         (SELECT id FROM number_statuses WHERE tenant_id = 1 AND code = (ARRAY['no_answer','busy','success','refused','in_work'])[1 + i % 5]),
         n.allocated_at + (3 + i % 40) * interval '1 hour',
         CASE WHEN i % 5 >= 2 THEN n.allocated_at + (3 + i % 40) * interval '1 hour' END, 'bench', n.allocated_at,
         n.import_id, 1 + (i - 1) / $NUMBERS
    FROM generate_series(1, $CALLS) i
    JOIN phone_numbers n ON n.tenant_id = 1 AND n.phone = 79000000000 + 1 + (i % $NUMBERS)
   ORDER BY 10;
VACUUM ANALYZE;
SQL
echo "source rows: $((2 * NUMBERS)) events + $CALLS calls" >&2

seconds() { python3 -c "import time; print(f'{time.time() - $1:.2f}')"; }

psql -q "$URL" -c "CHECKPOINT"
START=$(date +%s.%N)
psql -q -v ON_ERROR_STOP=1 "$URL" <<'SQL'
SET work_mem = '256MB';
CREATE TABLE raw_conversions (LIKE project_conversions);
ALTER TABLE raw_conversions DROP COLUMN success_hours;
CREATE TABLE raw_cell_buckets (tenant_id bigint, project_id bigint, day date, provider_id bigint, geo_id bigint,
  bucket int2, n bigint);
CREATE TABLE raw_provider_outcomes (tenant_id bigint, dimension int2, day date, provider_id bigint, key bigint,
  allocated bigint, dialed bigint, contacted bigint, success bigint, success_hours_sum float8);
CREATE TABLE raw_provider_buckets (tenant_id bigint, dimension int2, day date, provider_id bigint, key bigint,
  histogram int2, bucket int2, n bigint);
-- The source rows read once, and every aggregate written from them.
WITH r AS MATERIALIZED (
  SELECT r.tenant_id, r.project_id, (r.at AT TIME ZONE p.time_zone)::date AS day, r.provider_id,
         COALESCE(r.geo_id, 0) AS geo_id, COALESCE(r.import_id, 0) AS import_id,
         CASE WHEN r.phone >= 100000 THEN left(r.phone::text, 6)::bigint ELSE 0 END AS block,
         r.kind, r.outcome, r.hours, r.attempt
    FROM (
      SELECT ne.tenant_id, ne.project_id, ne.provider_id, ne.geo_id, ne.at,
             CASE ne.kind WHEN 'allocated' THEN 1 ELSE 3 END AS kind, 0 AS outcome, NULL::float8 AS hours,
             ne.import_id, ne.phone, NULL::int AS attempt
        FROM number_events ne WHERE ne.kind IN ('allocated', 'leased') AND ne.project_id IS NOT NULL
      UNION ALL
      SELECT x.tenant_id, x.project_id, n.provider_id, n.geo_id, x.started_at, 2, 0, NULL, n.import_id, n.phone, NULL
        FROM exports x JOIN export_batches b ON b.tenant_id = x.tenant_id AND b.export_id = x.id
        CROSS JOIN LATERAL unnest(b.phones) AS taken(phone)
        JOIN phone_numbers n ON n.tenant_id = x.tenant_id AND n.phone = taken.phone
       WHERE x.status = 'succeeded'
      UNION ALL
      SELECT o.tenant_id, o.project_id, o.provider_id, o.geo_id, o.started_at, 4,
             CASE WHEN s.category = 'success' THEN 1 WHEN s.category = 'failure' THEN 2
                  WHEN o.answered_at IS NULL AND s.category = 'retry' THEN 3
                  WHEN o.answered_at IS NOT NULL OR s.category IN ('in_work', 'callback', 'dnc') THEN 4 ELSE 0 END,
             CASE WHEN s.category = 'success' THEN greatest(0, extract(epoch FROM o.started_at - o.allocated_at) / 3600) END,
             o.import_id, o.phone, CASE WHEN s.category = 'success' THEN o.attempt END
        FROM call_outcomes o
        JOIN number_statuses s ON s.tenant_id = o.tenant_id AND s.id = o.status_to
       WHERE o.project_id IS NOT NULL
    ) r JOIN projects p ON p.tenant_id = r.tenant_id AND p.id = r.project_id
), conversions AS (
  INSERT INTO raw_conversions
  SELECT tenant_id, project_id, day, provider_id, geo_id, extract(isodow FROM day)::int2,
         count(*) FILTER (WHERE kind = 1), count(*) FILTER (WHERE kind = 2),
         count(*) FILTER (WHERE kind = 3), count(*) FILTER (WHERE kind = 4),
         count(*) FILTER (WHERE outcome IN (1, 2, 4)), count(*) FILTER (WHERE outcome = 1),
         count(*) FILTER (WHERE outcome = 2), count(*) FILTER (WHERE outcome = 3),
         COALESCE(sum(hours), 0)
    FROM r GROUP BY 1, 2, 3, 4, 5
), cell_buckets AS (
  INSERT INTO raw_cell_buckets
  SELECT tenant_id, project_id, day, provider_id, geo_id,
         (CASE WHEN hours < 24 THEN floor(hours) WHEN hours < 720 THEN 23 + floor(hours / 24) ELSE 53 END)::int2,
         count(*)
    FROM r WHERE outcome = 1 AND hours IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6
), dims AS MATERIALIZED (
  SELECT tenant_id, d.dimension, day, provider_id,
         CASE d.dimension WHEN 1 THEN geo_id WHEN 2 THEN import_id ELSE block END AS key, kind, outcome, hours, attempt
    FROM r CROSS JOIN (VALUES (1::int2), (2::int2), (3::int2)) d(dimension)
   WHERE kind IN (1, 4)
), provider AS (
  INSERT INTO raw_provider_outcomes
  SELECT tenant_id, dimension, day, provider_id, key, count(*) FILTER (WHERE kind = 1),
         count(*) FILTER (WHERE kind = 4), count(*) FILTER (WHERE kind = 4 AND outcome IN (1, 2, 4)),
         count(*) FILTER (WHERE outcome = 1), COALESCE(sum(hours), 0)
    FROM dims GROUP BY 1, 2, 3, 4, 5
)
INSERT INTO raw_provider_buckets
SELECT tenant_id, dimension, day, provider_id, key, h.histogram, h.bucket, count(*)
  FROM dims CROSS JOIN LATERAL (VALUES
         (0::int2, (least(greatest(attempt, 1), 30) - 1)::int2),
         (1::int2, (CASE WHEN hours < 24 THEN floor(hours) WHEN hours < 720 THEN 23 + floor(hours / 24) ELSE 53 END)::int2)
       ) h(histogram, bucket)
 WHERE outcome = 1 AND h.bucket IS NOT NULL
 GROUP BY 1, 2, 3, 4, 5, 6, 7;
SQL
RAW=$(seconds "$START")
echo "raw: one SQL statement, GROUP BY into the tables  ${RAW} s" >&2

psql -q "$URL" -c "CHECKPOINT"
START=$(date +%s.%N)
DATABASE_URL=$URL "$BIN" conversion refresh --full --json > /dev/null
OURS=$(seconds "$START")
echo "dialpool conversion refresh --full  ${OURS} s" >&2
# The same cells and sums as the GROUP BY.
psql -q -v ON_ERROR_STOP=1 "$URL" -Atc "
  SELECT count(*) FROM (
    (SELECT tenant_id, project_id, day, provider_id, geo_id, weekday, allocated, leased, dialed, contacted, success, no_answer
       FROM raw_conversions
     EXCEPT
     SELECT tenant_id, project_id, day, provider_id, geo_id, weekday, allocated, leased, dialed, contacted, success, no_answer
       FROM project_conversions)
    UNION ALL
    (SELECT tenant_id, project_id, day, provider_id, geo_id, weekday, allocated, leased, dialed, contacted, success, no_answer
       FROM project_conversions
     EXCEPT
     SELECT tenant_id, project_id, day, provider_id, geo_id, weekday, allocated, leased, dialed, contacted, success, no_answer
       FROM raw_conversions)) differ" | grep -qx 0 || { echo "the refresh and the GROUP BY differ" >&2; exit 1; }
# The cells' hours histograms.
psql -q -v ON_ERROR_STOP=1 "$URL" -Atc "
  WITH ours AS (
    SELECT tenant_id, project_id, day, provider_id, geo_id, (h.i - 1)::int2, h.v
      FROM project_conversions, unnest(success_hours) WITH ORDINALITY h(v, i) WHERE h.v > 0)
  SELECT count(*) FROM ((TABLE ours EXCEPT TABLE raw_cell_buckets)
                        UNION ALL (TABLE raw_cell_buckets EXCEPT TABLE ours)) d" \
  | grep -qx 0 || { echo "the refresh's hours histograms and the GROUP BY differ" >&2; exit 1; }
# And the provider scorecard's rows and histograms.
psql -q -v ON_ERROR_STOP=1 "$URL" -Atc "
  WITH ours AS (
    SELECT tenant_id, dimension, day, provider_id, key, allocated, dialed, contacted, success,
           round(success_hours_sum::numeric, 3) AS hours FROM provider_outcomes),
  raw AS (
    SELECT tenant_id, dimension, day, provider_id, key, allocated, dialed, contacted, success,
           round(success_hours_sum::numeric, 3) FROM raw_provider_outcomes),
  our_buckets AS (
    SELECT tenant_id, dimension, day, provider_id, key, 0::int2, (h.i - 1)::int2, h.v
      FROM provider_outcomes, unnest(success_attempts) WITH ORDINALITY h(v, i) WHERE h.v > 0
    UNION ALL
    SELECT tenant_id, dimension, day, provider_id, key, 1::int2, (h.i - 1)::int2, h.v
      FROM provider_outcomes, unnest(success_hours) WITH ORDINALITY h(v, i) WHERE h.v > 0)
  SELECT (SELECT count(*) FROM ((TABLE ours EXCEPT TABLE raw) UNION ALL (TABLE raw EXCEPT TABLE ours)) a)
       + (SELECT count(*) FROM ((TABLE our_buckets EXCEPT TABLE raw_provider_buckets)
                                UNION ALL (TABLE raw_provider_buckets EXCEPT TABLE our_buckets)) b)" \
  | grep -qx 0 || { echo "the refresh's provider rows and the GROUP BY differ" >&2; exit 1; }

# An incremental refresh reads only the rows committed since the last one: the 100k calls.
psql -q -v ON_ERROR_STOP=1 "$URL" -c "
  INSERT INTO call_outcomes (tenant_id, call_id, phone, project_id, provider_id, geo_id, disposition, status_to,
                             started_at, source)
  SELECT 1, 'new' || i, n.phone, n.project_id, n.provider_id, n.geo_id, 'X',
         (SELECT id FROM number_statuses WHERE tenant_id = 1 AND code = 'no_answer'), now() - (i % 3) * interval '1 day', 'bench'
    FROM generate_series(1, 100000) i JOIN phone_numbers n ON n.tenant_id = 1 AND n.phone = 79000000000 + 1 + i"
START=$(date +%s.%N)
DATABASE_URL=$URL DIALPOOL_LOG=dialpool_engine=info "$BIN" conversion refresh --json > "$(mktemp)"
INCREMENTAL=$(seconds "$START")
echo "dialpool conversion refresh after 100k new calls  ${INCREMENTAL} s" >&2

python3 -c "
print(f'full: raw {$RAW:.2f} s   ours {$OURS:.2f} s   ours/raw {$OURS / $RAW:.2f} (target <= 1.0)')
print(f'incremental after 100k calls: {$INCREMENTAL:.2f} s (target < 2 s)')"
