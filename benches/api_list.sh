#!/usr/bin/env bash
# The API's cost over the database: an authenticated request for one page of 100 numbers
# out of ROWS (default 10M), at concurrency 16, through HTTP on loopback (wrk), against
# the same page's SQL run by pgbench at the same concurrency on the same database.
#
#   benches/api_list.sh [ROWS]
#
# Prints p50/p99 of both and their ratio; record the result in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${1:-10000000}"
DURATION="${DURATION:-30}"
PORT=18181
DB=dialpool_bench_api
URL="postgres://postgres@127.0.0.1:5432/$DB"
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT

scripts/setup.sh
command -v wrk >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
command -v pgbench >/dev/null || { echo "pgbench (postgresql-contrib) is required" >&2; exit 1; }
scripts/build-ui.sh
cargo build --release --quiet -p dialpool-api
BIN=${CARGO_TARGET_DIR:-target}/release/dialpool

# Loading 10M rows takes minutes; a database left by an earlier run with the same rows is
# reused (only its API tokens and sessions differ between runs).
HAVE=$(psql -tAq "$URL" -c "SELECT count(*) FROM phone_numbers" 2>/dev/null || echo 0)
if [ "$HAVE" != "$ROWS" ]; then
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
  DATABASE_URL=$URL "$BIN" migrate >/dev/null
  DATABASE_URL=$URL "$BIN" provider add bench --name Bench --region RU >/dev/null
  echo "loading $ROWS numbers" >&2
  psql -q "$URL" -c "INSERT INTO phone_numbers (tenant_id, phone, provider_id, geo_id, import_id, last_import_id, attributes)
                     SELECT 1, 79000000000 + i * 7, 1, NULL, 0, 0, jsonb_build_object('name', 'Person ' || i)
                       FROM generate_series(1, $ROWS) i" -c "VACUUM ANALYZE phone_numbers"
else
  DATABASE_URL=$URL "$BIN" migrate >/dev/null
  psql -q "$URL" -c "DELETE FROM sessions" -c "DELETE FROM login_failures"
fi

DATABASE_URL=$URL DIALPOOL_ADMIN_EMAIL=bench@example.com DIALPOOL_ADMIN_PASSWORD='bench password 1' \
  DIALPOOL_LOG=warn "$BIN" serve --listen 127.0.0.1:$PORT --data-dir "$WORK" 2>"$WORK/serve.log" &
SERVER=$!
for _ in $(seq 1 60); do curl -sf http://127.0.0.1:$PORT/readyz >/dev/null && break; sleep 1; done
B=http://127.0.0.1:$PORT/api/v1
curl -sf -c "$WORK/jar" -H 'content-type: application/json' \
  -d '{"email":"bench@example.com","password":"bench password 1"}' "$B/auth/login" >/dev/null
CSRF=$(curl -sf -b "$WORK/jar" "$B/me" | python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf_token"])')
TOKEN=$(curl -sf -b "$WORK/jar" -H "X-CSRF-Token: $CSRF" -H 'content-type: application/json' \
  -d '{"name":"bench","permissions":["numbers.read","scope.all"]}' "$B/tokens" | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')

# A page in the middle of the table, as a cursor the API itself would hand out. The token
# carries scope.all: without it a token is a scoped manager's and sees no numbers.
MIDDLE=$((79000000000 + ROWS / 2 * 7))
CURSOR=$(python3 -c "import base64,json; print(base64.urlsafe_b64encode(json.dumps({'s':'phone','v':'$MIDDLE','id':$MIDDLE}).encode()).decode().rstrip('='))")
PAGE="$B/numbers?limit=100&cursor=$CURSOR"
ITEMS=$(curl -sf -H "Authorization: Bearer $TOKEN" "$PAGE" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
[ "$ITEMS" = 100 ] || { echo "the middle page holds $ITEMS numbers, not 100" >&2; exit 1; }

echo "api: wrk -t2 -c16 -d${DURATION}s" >&2
wrk -t2 -c16 -d"${DURATION}s" --latency -H "Authorization: Bearer $TOKEN" "$PAGE" > "$WORK/wrk.txt"
cat "$WORK/wrk.txt" >&2

cat > "$WORK/page.sql" <<SQL
SELECT phone, provider_id, geo_id, project_id, status, attempts, next_eligible_at, import_id, attributes, created_at
  FROM phone_numbers WHERE tenant_id = 1 AND phone > $MIDDLE ORDER BY phone LIMIT 101;
SQL
echo "raw: pgbench -c16 -j2 -T${DURATION}" >&2
(cd "$WORK" && pgbench -n -h 127.0.0.1 -U postgres -c 16 -j 2 -T "$DURATION" -f page.sql --log --log-prefix=raw "$DB" > pgbench.txt 2>&1)

python3 - "$WORK" <<'PY'
import glob, re, sys
work = sys.argv[1]
wrk = open(f"{work}/wrk.txt").read()
def ms(v, unit):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
lat = {m.group(1): ms(m.group(2), m.group(3)) for m in re.finditer(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)$", wrk, re.M)}
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", wrk).group(1))
raw = sorted(int(line.split()[2]) / 1000.0 for f in glob.glob(f"{work}/raw.*") for line in open(f))
pct = lambda p: raw[min(len(raw) - 1, int(len(raw) * p))]
print(f"api   p50 {lat['50']:.2f} ms  p99 {lat['99']:.2f} ms  {rps:.0f} req/s")
print(f"raw   p50 {pct(0.5):.2f} ms  p99 {pct(0.99):.2f} ms  ({len(raw)} queries)")
print(f"ratio p50 {lat['50'] / pct(0.5):.2f}  p99 {lat['99'] / pct(0.99):.2f}")
PY
