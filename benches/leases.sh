#!/usr/bin/env bash
# Lease throughput and latency through HTTP on loopback: POST /projects/{id}/leases for
# one number at a time at concurrency 16 (wrk), against the raw limit measured in the same
# run on the same database: pgbench at the same concurrency running the one statement a
# lease comes down to,
#   UPDATE … SET leased_until = … WHERE phone = (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1).
#
#   benches/leases.sh [NUMBERS]      (default 1000000 numbers held by the project)
#
# Prints tps and p50/p99 of both and the ratios; record them in docs/benchmarks.md.
# Targets: the API at >= 60% of the raw transactions per second, p99 under 25 ms.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${1:-1000000}"
DURATION="${DURATION:-30}"
PORT=18182
DB=dialpool_bench_lease
URL="postgres://postgres@127.0.0.1:5432/$DB"
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT

scripts/setup.sh
command -v wrk >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
command -v pgbench >/dev/null || { echo "pgbench (postgresql-contrib) is required" >&2; exit 1; }
scripts/build-ui.sh
cargo build --release --quiet -p dialpool-api
BIN=${CARGO_TARGET_DIR:-target}/release/dialpool

psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
DATABASE_URL=$URL "$BIN" migrate >/dev/null
DATABASE_URL=$URL "$BIN" provider add bench --name Bench --region RU >/dev/null
# One project open all day every day, calling hours all day; every number fresh in it.
psql -q "$URL" <<SQL
INSERT INTO projects (tenant_id, name, time_zone, daily_quota) VALUES (1, 'Bench', 'UTC', 1000000);
INSERT INTO project_schedules (tenant_id, project_id, weekday, starts_at, ends_at)
  SELECT 1, 1, d, '00:00', '24:00' FROM generate_series(1, 7) d;
INSERT INTO calling_hours (tenant_id, geo_id, start_local, end_local) VALUES (1, NULL, '00:00', '24:00');
INSERT INTO phone_numbers (tenant_id, phone, provider_id, project_id, allocated_at, import_id, last_import_id, attributes)
  SELECT 1, 79000000000 + i * 7, 1, 1, now(), 0, 0, jsonb_build_object('name', 'Person ' || i)
    FROM generate_series(1, $ROWS) i;
VACUUM ANALYZE phone_numbers;
SQL

DATABASE_URL=$URL DIALPOOL_ADMIN_EMAIL=bench@example.com DIALPOOL_ADMIN_PASSWORD='bench password 1' \
  DIALPOOL_LOG=warn "$BIN" serve --listen 127.0.0.1:$PORT --data-dir "$WORK" 2>"$WORK/serve.log" &
SERVER=$!
for _ in $(seq 1 60); do curl -sf http://127.0.0.1:$PORT/readyz >/dev/null && break; sleep 1; done
B=http://127.0.0.1:$PORT/api/v1
curl -sf -c "$WORK/jar" -H 'content-type: application/json' \
  -d '{"email":"bench@example.com","password":"bench password 1"}' "$B/auth/login" >/dev/null
CSRF=$(curl -sf -b "$WORK/jar" "$B/me" | python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf_token"])')
TOKEN=$(curl -sf -b "$WORK/jar" -H "X-CSRF-Token: $CSRF" -H 'content-type: application/json' \
  -d '{"name":"bench","permissions":["calls.work","scope.all"]}' "$B/tokens" | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
GOT=$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"count":1,"lease_s":3600}' \
  "$B/projects/1/leases" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["numbers"]))')
[ "$GOT" = 1 ] || { echo "a lease returned $GOT numbers, not 1" >&2; exit 1; }

cat > "$WORK/lease.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"count":1,"lease_s":3600}'
wrk.headers["Content-Type"] = "application/json"
LUA
# Every pooled connection prepares its statements and loads the time zones once (up to
# 160 ms under load); warm them up first so the tail measures leases, not start-up.
wrk -t2 -c16 -d5s -s "$WORK/lease.lua" -H "Authorization: Bearer $TOKEN" "$B/projects/1/leases" >/dev/null
echo "api: wrk -t2 -c16 -d${DURATION}s POST /projects/1/leases" >&2
wrk -t2 -c16 -d"${DURATION}s" --latency -s "$WORK/lease.lua" -H "Authorization: Bearer $TOKEN" "$B/projects/1/leases" > "$WORK/wrk.txt"
cat "$WORK/wrk.txt" >&2
LEASED=$(psql -tAq "$URL" -c "SELECT count(*) FROM phone_numbers WHERE leased_until IS NOT NULL")
DOUBLE=$(psql -tAq "$URL" -c "SELECT count(*) FROM (SELECT phone FROM number_events WHERE kind = 'leased' GROUP BY phone HAVING count(*) > 1) d")
echo "numbers leased: $LEASED, leased twice: $DOUBLE" >&2
[ "$DOUBLE" = 0 ] || { echo "a number was leased twice" >&2; exit 1; }

# The raw limit starts from the same state: every lease returned, the table vacuumed,
# and the same five seconds of warm-up.
cat > "$WORK/lease.sql" <<'SQL'
UPDATE phone_numbers SET leased_until = now() + interval '1 hour'
 WHERE tenant_id = 1 AND phone = (SELECT phone FROM phone_numbers
                                   WHERE tenant_id = 1 AND project_id = 1 AND leased_until IS NULL
                                     AND next_eligible_at IS NULL
                                   ORDER BY next_eligible_at, phone LIMIT 1 FOR UPDATE SKIP LOCKED);
SQL
(cd "$WORK" && pgbench -n -M prepared -h 127.0.0.1 -U postgres -c 16 -j 2 -T 5 -f lease.sql "$DB" >/dev/null 2>&1)
# Both of pgbench's protocols: simple (parsed and planned each time) and prepared; the
# faster one is the limit.
for MODE in simple prepared; do
  psql -q "$URL" -c "UPDATE phone_numbers SET leased_until = NULL WHERE leased_until IS NOT NULL" -c "VACUUM ANALYZE phone_numbers"
  echo "raw: pgbench -M $MODE -c16 -j2 -T${DURATION}" >&2
  (cd "$WORK" && pgbench -n -M "$MODE" -h 127.0.0.1 -U postgres -c 16 -j 2 -T "$DURATION" -f lease.sql \
     --log --log-prefix="raw-$MODE" "$DB" > "pgbench-$MODE.txt" 2>&1)
  grep -E "tps|latency" "$WORK/pgbench-$MODE.txt" >&2
done

python3 - "$WORK" <<'PY'
import glob, re, sys
work = sys.argv[1]
wrk = open(f"{work}/wrk.txt").read()
def ms(v, unit):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
lat = {m.group(1): ms(m.group(2), m.group(3)) for m in re.finditer(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)$", wrk, re.M)}
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", wrk).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", wrk)
if non2xx:
    sys.exit(f"the API answered {non2xx.group(1)} leases with an error")
print(f"api              {rps:.0f} leases/s  p50 {lat['50']:.2f} ms  p99 {lat['99']:.2f} ms")
best = 0.0
for mode in ("simple", "prepared"):
    raw = sorted(int(line.split()[2]) / 1000.0 for f in glob.glob(f"{work}/raw-{mode}.*") for line in open(f))
    tps = float(re.search(r"tps = ([\d.]+)", open(f"{work}/pgbench-{mode}.txt").read()).group(1))
    pct = lambda p: raw[min(len(raw) - 1, int(len(raw) * p))]
    print(f"raw ({mode:8}) {tps:.0f} tps        p50 {pct(0.5):.2f} ms  p99 {pct(0.99):.2f} ms")
    best = max(best, tps)
print(f"ratio throughput {rps / best:.2f} of the faster raw (target >= 0.60)   api p99 {lat['99']:.2f} ms (target < 25)")
PY
