#!/usr/bin/env bash
# Outcome ingestion: a ROWS-row Asterisk Master.csv (16 columns, local time), one call per
# number of a project, applied by `dialpool outcomes import`, against the raw limit in the
# same run on the same database: psql `\copy` of the same file into a table and one
# `UPDATE phone_numbers … FROM` it setting status, attempts and last call.
#
#   benches/outcomes.sh [ROWS]      (default 1000000)
#
# Prints both times and raw/ours; record them in docs/benchmarks.md. Target: >= 0.50.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${1:-1000000}"
DB=dialpool_bench_outcomes
URL="postgres://postgres@127.0.0.1:5432/$DB"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

scripts/setup.sh
cargo build --release --quiet -p dialpool-api
BIN=${CARGO_TARGET_DIR:-target}/release/dialpool

psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
DATABASE_URL=$URL "$BIN" migrate >/dev/null
DATABASE_URL=$URL "$BIN" provider add bench --name Bench --region RU >/dev/null
psql -q "$URL" <<SQL
INSERT INTO projects (tenant_id, name, time_zone, daily_quota) VALUES (1, 'Bench', 'UTC', 1000000);
INSERT INTO phone_numbers (tenant_id, phone, provider_id, project_id, allocated_at, import_id, last_import_id)
  SELECT 1, 79000000000 + i * 7, 1, 1, now(), 0, 0 FROM generate_series(1, $ROWS) i;
VACUUM ANALYZE phone_numbers;
SQL

python3 - "$ROWS" "$WORK/Master.csv" <<'PY'
import sys
rows, path = int(sys.argv[1]), sys.argv[2]
kinds = ["NO ANSWER"] * 12 + ["BUSY"] * 4 + ["ANSWERED"] * 3 + ["FAILED"]
with open(path, "w") as out:
    for i in range(1, rows + 1):
        phone = 79000000000 + i * 7
        d = kinds[i % len(kinds)]
        billsec = 60 if d == "ANSWERED" else 0
        h, m, s = 9 + (i // 3600) % 10, (i // 60) % 60, i % 60
        start = f"2026-11-23 {h:02d}:{m:02d}:{s:02d}"
        answer = start if d == "ANSWERED" else ""
        out.write(f'"","1001","+{phone}","outbound","""Agent"" <1001>","SIP/1001-{i:08x}","SIP/trunk-{i:08x}",'
                  f'"Dial","SIP/trunk/{phone},30","{start}","{answer}","{start}",{billsec + 5},{billsec},"{d}","DOCUMENTATION"\n')
PY
SIZE=$(du -h "$WORK/Master.csv" | cut -f1)
echo "Master.csv: $ROWS rows, $SIZE" >&2

reset() {
  psql -q "$URL" -c "UPDATE phone_numbers SET status = 0, attempts = 0, last_called_at = NULL, next_eligible_at = NULL
                      WHERE status <> 0 OR attempts <> 0" \
       -c "TRUNCATE call_outcomes" -c "DELETE FROM number_events" -c "VACUUM ANALYZE phone_numbers" -c "CHECKPOINT"
}

reset
START=$(date +%s.%N)
psql -q -v ON_ERROR_STOP=1 "$URL" <<SQL
BEGIN;
CREATE TEMP TABLE cdr (accountcode text, src text, dst text, dcontext text, clid text, channel text, dstchannel text,
                       lastapp text, lastdata text, start timestamp, answer text, "end" text, duration int,
                       billsec int, disposition text, amaflags text);
\copy cdr FROM '$WORK/Master.csv' CSV
UPDATE phone_numbers n SET status = m.status_id, attempts = n.attempts + 1,
       last_called_at = c.start AT TIME ZONE 'Europe/Moscow'
  FROM cdr c JOIN disposition_map m ON m.tenant_id = 1 AND m.disposition = c.disposition
 WHERE n.tenant_id = 1 AND n.phone = ltrim(c.dst, '+')::bigint;
COMMIT;
SQL
RAW=$(python3 -c "import time; print(f'{time.time() - $START:.2f}')")
echo "raw: \\copy + UPDATE  ${RAW} s" >&2

reset
START=$(date +%s.%N)
DATABASE_URL=$URL "$BIN" outcomes import "$WORK/Master.csv" --format asterisk --time-zone Europe/Moscow --json > "$WORK/summary.json"
OURS=$(python3 -c "import time; print(f'{time.time() - $START:.2f}')")
python3 - "$WORK/summary.json" "$ROWS" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["applied"] == int(sys.argv[2]) and s["rejected"] == 0, s
PY
echo "dialpool outcomes import  ${OURS} s" >&2
python3 -c "print(f'raw {$RAW:.2f} s   ours {$OURS:.2f} s   raw/ours {$RAW / $OURS:.2f} (target >= 0.50)')"
