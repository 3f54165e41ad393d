#!/usr/bin/env bash
# Allocation against PostgreSQL's own limit for the same writes, in one run:
#   (a) raw: one `UPDATE ... FROM (SELECT ... FOR UPDATE SKIP LOCKED)` assigning N rows,
#       the first N the scan finds (rows side by side: the fewest pages touched);
#   (a') the same statement taking the newest N (`ORDER BY created_at DESC`), which is
#       what allocation's default order takes: rows spread over the whole table;
#   (b) `dialpool allocate` handing out N numbers across 50 projects with overlapping
#       pools (weights, priorities, fair share, one `allocated` event per number);
#   (c) `dialpool allocate --dry-run` over the same pool;
#   (d) one project taking its whole 1M quota (`--project`), against (a') in the same run;
#   (e) right after an import, no manual ANALYZE: `dialpool import` of a fresh file of
#       FRESH numbers into an empty database, then at once `dialpool allocate` of a fifth
#       of them to one project; against (e-raw), the raw UPDATE of as many rows right
#       after the same import into another empty database.
#
#   benches/allocate.sh [ROWS] [ALLOCATE]     defaults: 10000000 numbers, 1000000 allocated
#
# Prints seconds for each and the ratio (b)/(a); record the result in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${1:-10000000}"
TOTAL="${2:-1000000}"
PROJECTS=50
DB=dialpool_bench_alloc
URL="postgres://postgres@127.0.0.1:5432/$DB"
export DATABASE_URL=$URL

scripts/setup.sh
scripts/build-ui.sh
cargo build --release --quiet -p dialpool-api -p dialpool-fixtures
BIN=${CARGO_TARGET_DIR:-target}/release/dialpool
psqlq() { psql -X -q -v ON_ERROR_STOP=1 "$URL" "$@"; }

# Five providers, ten geos (countries and regions); numbers spread over them with
# different ages. A database left by an earlier run with the same rows is reused.
HAVE=$(psql -X -tAq "$URL" -c "SELECT count(*) FROM phone_numbers" 2>/dev/null || echo 0)
if [ "$HAVE" != "$ROWS" ]; then
  psql -X -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
  "$BIN" migrate >/dev/null
  for p in p1 p2 p3 p4 p5; do "$BIN" provider add $p --name "Provider $p" --region RU >/dev/null; done
  psqlq -c "INSERT INTO geos (tenant_id, country, region, name, time_zone) VALUES
              (1, 'RU', 'MOW', 'Moscow', 'Europe/Moscow'), (1, 'RU', 'SPE', 'Saint Petersburg', 'Europe/Moscow'),
              (1, 'RU', 'NVS', 'Novosibirsk', 'Asia/Novosibirsk'), (1, 'KZ', 'ALA', 'Almaty', 'Asia/Almaty')"
  echo "loading $ROWS numbers" >&2
  psqlq -c "CREATE TEMP TABLE g AS SELECT row_number() OVER (ORDER BY code) - 1 AS k, id FROM geos
              WHERE tenant_id = 1 AND code IN ('RU','RU-MOW','RU-SPE','RU-NVS','KZ','KZ-ALA','UZ','KG','BY','AM');
            INSERT INTO phone_numbers (tenant_id, phone, provider_id, geo_id, import_id, last_import_id, attributes, created_at)
            SELECT 1, 79000000000 + i * 7, (SELECT id FROM providers WHERE code = 'p' || (1 + i % 5)),
                   (SELECT id FROM g WHERE k = (i / 5) % 10), 0, 0, jsonb_build_object('name', 'Person ' || i),
                   timestamptz '2026-01-01' + (i % 300) * interval '1 day'
              FROM generate_series(1, $ROWS) i" -c "VACUUM ANALYZE phone_numbers"
fi

# 50 projects with overlapping pools: each takes one provider anywhere and one geo from
# any provider; priorities in three tiers; every day.
psqlq -c "UPDATE projects SET status = 'deleted', deleted_at = now(), name = name || ' ' || id WHERE deleted_at IS NULL"
QUOTA=$((TOTAL / PROJECTS))
GEOS=(RU RU-MOW RU-SPE RU-NVS KZ KZ-ALA UZ KG BY AM)
for k in $(seq 0 $((PROJECTS - 1))); do
  "$BIN" project create --name "Bench $k" --time-zone Europe/Moscow --quota $QUOTA --priority $((k % 3)) \
    --source "p$((1 + k % 5))=2" --source "any:${GEOS[$((k % 10))]}" --window daily=09:00-21:00 >/dev/null
done

reset() {
  psqlq -c "UPDATE phone_numbers SET project_id = NULL, allocated_at = NULL WHERE project_id IS NOT NULL" \
        -c "DELETE FROM project_fills" -c "DELETE FROM number_events WHERE kind = 'allocated'" \
        -c "VACUUM ANALYZE phone_numbers, number_events" -c "CHECKPOINT"
}
seconds() { python3 -c "import sys,time; print(f'{time.time() - float(sys.argv[1]):.2f}')" "$1"; }

raw_update() {
  psqlq -c "UPDATE phone_numbers n SET project_id = (SELECT min(id) FROM projects WHERE deleted_at IS NULL), allocated_at = now()
              FROM (SELECT tenant_id, phone FROM phone_numbers WHERE tenant_id = 1 AND project_id IS NULL
                     $1 LIMIT $TOTAL FOR UPDATE SKIP LOCKED) s
             WHERE n.tenant_id = s.tenant_id AND n.phone = s.phone"
}

reset
echo "(a) raw UPDATE of the first $TOTAL rows" >&2
START=$(date +%s.%N)
raw_update ""
RAW=$(seconds "$START")

reset
echo "(a') raw UPDATE of the newest $TOTAL rows" >&2
START=$(date +%s.%N)
raw_update "ORDER BY created_at DESC"
RAW_NEWEST=$(seconds "$START")

reset
echo "(c) dialpool allocate --dry-run" >&2
START=$(date +%s.%N)
"$BIN" allocate --date 2026-11-23 --dry-run --json > /tmp/dialpool-bench-dry.json
DRY=$(seconds "$START")

echo "(b) dialpool allocate" >&2
START=$(date +%s.%N)
"$BIN" allocate --date 2026-11-23 --json > /tmp/dialpool-bench-run.json
RUN=$(seconds "$START")
ALLOCATED=$(python3 -c "import json; print(json.load(open('/tmp/dialpool-bench-run.json'))['allocated'])")
PLANNED=$(python3 -c "import json; print(json.load(open('/tmp/dialpool-bench-dry.json'))['allocated'])")

reset
echo "(d) dialpool allocate: one project, a $TOTAL quota" >&2
ONE=$("$BIN" project create --name "Bench one" --time-zone Europe/Moscow --quota "$TOTAL" --source "p1=1" \
        --source "p2=1" --source "p3=1" --source "p4=1" --source "p5=1" --window daily=00:00-24:00 --json |
      python3 -c "import json,sys; print(json.load(sys.stdin)['id'])")
START=$(date +%s.%N)
"$BIN" allocate --date 2026-11-23 --project "$ONE" --json > /tmp/dialpool-bench-one.json
ONE_S=$(seconds "$START")
ONE_ALLOCATED=$(python3 -c "import json; print(json.load(open('/tmp/dialpool-bench-one.json'))['allocated'])")

# (e): a fresh import, then at once the next step. The planner has only what the import
# left it: that is what is measured.
FRESH=${FRESH:-500000}
TAKE=$((FRESH / 5))
GEN=${CARGO_TARGET_DIR:-target}/release/dialpool-gen
cargo build --release --quiet -p dialpool-api -p dialpool-fixtures
mkdir -p bench-data
[ -s "bench-data/fresh-$FRESH.csv" ] || "$GEN" csv --rows "$FRESH" --out "bench-data/fresh-$FRESH.csv"
fresh_import() {
  psql -X -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS ${DB}_fresh WITH (FORCE)"
  DATABASE_URL="${URL}_fresh" "$BIN" migrate >/dev/null
  DATABASE_URL="${URL}_fresh" "$BIN" provider add fresh --name Fresh --region RU >/dev/null
  DATABASE_URL="${URL}_fresh" "$BIN" import "bench-data/fresh-$FRESH.csv" --provider fresh -q --json >/dev/null
}
echo "(e-raw) raw UPDATE of $TAKE rows right after importing $FRESH" >&2
fresh_import
START=$(date +%s.%N)
psql -X -q -v ON_ERROR_STOP=1 "${URL}_fresh" \
  -c "INSERT INTO projects (tenant_id, name, time_zone, daily_quota) VALUES (1, 'Raw', 'UTC', $TAKE)" \
  -c "UPDATE phone_numbers n SET project_id = (SELECT max(id) FROM projects), allocated_at = now()
        FROM (SELECT tenant_id, phone FROM phone_numbers WHERE tenant_id = 1 AND project_id IS NULL
               ORDER BY created_at DESC LIMIT $TAKE FOR UPDATE SKIP LOCKED) s
       WHERE n.tenant_id = s.tenant_id AND n.phone = s.phone"
FRESH_RAW=$(seconds "$START")
echo "(e) dialpool allocate of $TAKE right after importing $FRESH" >&2
fresh_import
START=$(date +%s.%N)
FRESH_ID=$(DATABASE_URL="${URL}_fresh" "$BIN" project create --name "Fresh" --time-zone UTC --quota "$TAKE" \
             --source "fresh=1" --window daily=00:00-24:00 --json | python3 -c "import json,sys; print(json.load(sys.stdin)['id'])")
DATABASE_URL="${URL}_fresh" "$BIN" allocate --project "$FRESH_ID" --json > /tmp/dialpool-bench-fresh.json
FRESH_S=$(seconds "$START")
FRESH_ALLOCATED=$(python3 -c "import json; print(json.load(open('/tmp/dialpool-bench-fresh.json'))['allocated'])")
psql -X -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS ${DB}_fresh WITH (FORCE)"

echo "rows $ROWS, projects $PROJECTS, allocated $ALLOCATED (dry run planned $PLANNED)"
echo "(a) raw UPDATE ... FOR UPDATE SKIP LOCKED, first N:  $RAW s"
echo "(a') raw UPDATE ... FOR UPDATE SKIP LOCKED, newest N: $RAW_NEWEST s"
echo "(b) dialpool allocate:                                $RUN s"
echo "(c) dialpool allocate --dry-run:                      $DRY s"
python3 -c "print(f'ratio (b)/(a): {float(\"$RUN\") / float(\"$RAW\"):.2f}   ratio (b)/(a\'): {float(\"$RUN\") / float(\"$RAW_NEWEST\"):.2f}')"
echo "(d) one project, $ONE_ALLOCATED of a $TOTAL quota:       $ONE_S s"
python3 -c "print(f'ratio (d)/(a\'): {float(\"$ONE_S\") / float(\"$RAW_NEWEST\"):.2f}')"
echo "(e-raw) raw UPDATE of $TAKE right after an import:   $FRESH_RAW s"
echo "(e) dialpool allocate of $FRESH_ALLOCATED right after an import: $FRESH_S s"
python3 -c "print(f'ratio (e)/(e-raw): {float(\"$FRESH_S\") / float(\"$FRESH_RAW\"):.2f}')"
