#!/usr/bin/env bash
# What erasure and tombstones cost, against PostgreSQL's own limit measured in the same
# run on the same rows.
#
#   benches/compliance.sh                 # 10M rows, 100k erased, as in docs/benchmarks.md
#   ROWS=1000000 ERASE=10000 benches/compliance.sh
#
# (a) the raw import limit, as in benches/import.sh: `psql \copy` of the normalised rows
#     into unlogged staging, then INSERT .. ON CONFLICT into phone_numbers;
# (b) `dialpool import` of the raw file into a tenant without tombstones;
# (c) the raw erase limit: in one transaction, rolled back, `\copy` of the ERASE numbers
#     and a DELETE of them from the ROWS stored by (b);
# (d) `dialpool erase --file` of the same numbers (tombstones, events, calls, exports,
#     audit, all in transactions of 10,000);
# (e) `dialpool import` of the raw file again into a fresh database that holds the ERASE
#     tombstones: every row is hashed and checked (ERASE refused as erased).
# Results are appended to docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-10000000}
ERASE=${ERASE:-100000}
DATA=${BENCH_DATA:-bench-data}
SERVER=${BENCH_SERVER:-postgres://postgres@127.0.0.1:5432}
DB=dialpool_bench
PSQL=(psql -X -q -v ON_ERROR_STOP=1 "$SERVER/$DB")

scripts/setup.sh
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
cargo build --release -q -p dialpool-api -p dialpool-fixtures
BIN=${CARGO_TARGET_DIR:-target}/release
mkdir -p "$DATA"
raw="$DATA/numbers-$ROWS.csv"
normalised="$DATA/normalised-$ROWS.csv"
if [ ! -s "$raw" ] || [ ! -s "$normalised" ]; then
    echo "generating $ROWS rows"
    $BIN/dialpool-gen csv --rows "$ROWS" --out "$raw" --normalised "$normalised"
fi
# Every (ROWS / ERASE)th number of the file, in E.164.
erase="$DATA/erase-$ERASE-of-$ROWS.csv"
step=$((ROWS / ERASE))
awk -F, -v step="$step" -v n="$ERASE" '(NR - 1) % step == 0 && c < n { print "+" $1; c++ }' "$normalised" > "$erase"
keys="$DATA/keys"
rm -rf "$keys"
export DIALPOOL_DATA_DIR="$keys"

fresh_db() {
    psql -X -q "$SERVER/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
    DATABASE_URL="$SERVER/$DB" $BIN/dialpool migrate >/dev/null
    DATABASE_URL="$SERVER/$DB" $BIN/dialpool provider add bench --name Bench --region RU >/dev/null
    "${PSQL[@]}" -c "CHECKPOINT"
}
now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l | xargs printf '%.1f'; }
# Runs a command against the bench database; prints its wall seconds (its output goes to out.json).
timed() { /usr/bin/time -f "%e" -o "$DATA/time.txt" env DATABASE_URL="$SERVER/$DB" "$@" > "$DATA/out.json"; cat "$DATA/time.txt"; }

echo "(a) raw PostgreSQL import: \\copy + INSERT .. ON CONFLICT"
fresh_db
"${PSQL[@]}" -c "CREATE UNLOGGED TABLE bench_staging (phone bigint, country text, attributes jsonb)"
t0=$(now)
"${PSQL[@]}" -c "\\copy bench_staging FROM '$normalised' (FORMAT csv)"
"${PSQL[@]}" -c "INSERT INTO phone_numbers (tenant_id, phone, provider_id, geo_id, import_id, last_import_id, attributes)
                 SELECT 1, s.phone, p.id, g.id, 0, 0, s.attributes
                 FROM bench_staging s
                 CROSS JOIN (SELECT id FROM providers WHERE code = 'bench') p
                 LEFT JOIN geos g ON g.tenant_id = 1 AND g.code = s.country
                 ON CONFLICT (tenant_id, phone) DO NOTHING"
raw_s=$(elapsed "$t0" "$(now)")
echo "    ${raw_s}s"

echo "(b) dialpool import, no tombstones"
fresh_db
plain_s=$(timed $BIN/dialpool import "$raw" --provider bench -q --json --rejects "$DATA/rejects.csv" --data-dir "$keys")
echo "    ${plain_s}s"
stored=$("${PSQL[@]}" -Atc "SELECT count(*) FROM phone_numbers")

echo "(c) raw PostgreSQL erase: DELETE of $ERASE numbers out of $stored (rolled back)"
sed 's/^+//' "$erase" > "$DATA/erase-digits.csv"
t0=$(now)
"${PSQL[@]}" <<SQL
BEGIN;
CREATE TEMP TABLE erase_staging (phone bigint);
\\copy erase_staging FROM '$DATA/erase-digits.csv' (FORMAT csv)
DELETE FROM phone_numbers p USING erase_staging e WHERE p.tenant_id = 1 AND p.phone = e.phone;
ROLLBACK;
SQL
raw_erase_s=$(elapsed "$t0" "$(now)")
echo "    ${raw_erase_s}s"

echo "(d) dialpool erase --file of $ERASE numbers out of $stored"
erase_s=$(timed $BIN/dialpool erase --file "$erase" --json --data-dir "$keys")
left=$("${PSQL[@]}" -Atc "SELECT count(*) FROM phone_numbers")
echo "    ${erase_s}s, $left numbers left"

echo "(e) dialpool import with $ERASE tombstones"
fresh_db
timed $BIN/dialpool erase --file "$erase" --json --data-dir "$keys" >/dev/null
tomb_s=$(timed $BIN/dialpool import "$raw" --provider bench -q --json --rejects "$DATA/rejects-tomb.csv" --data-dir "$keys")
erased_rows=$("${PSQL[@]}" -Atc "SELECT erased FROM imports WHERE status = 'succeeded' ORDER BY id LIMIT 1")
echo "    ${tomb_s}s, $erased_rows rows refused as erased"
psql -X -q "$SERVER/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"

ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }
{
    echo
    echo "### $(date -u +%Y-%m-%d) — erasure and tombstones, $ROWS rows, $ERASE erased ($(git rev-parse --short HEAD 2>/dev/null || echo unknown))"
    echo
    echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(psql -X -Atc 'SHOW server_version' "$SERVER/postgres" | cut -d' ' -f1)."
    echo
    echo "| step | seconds | ratio |"
    echo "|---|---|---|"
    echo "| (a) raw PostgreSQL import limit (\`\\copy\` + \`INSERT .. ON CONFLICT\`) | $raw_s | 1 |"
    echo "| (b) \`dialpool import\`, no tombstones | $plain_s | $(ratio "$plain_s" "$raw_s") × (a) |"
    echo "| (e) \`dialpool import\`, $ERASE tombstones ($erased_rows refused) | **$tomb_s** | **$(ratio "$tomb_s" "$raw_s") × (a)**, $(ratio "$tomb_s" "$plain_s") × (b) |"
    echo "| (c) raw PostgreSQL erase limit (\`DELETE\` of $ERASE of $stored) | $raw_erase_s | 1 |"
    echo "| (d) \`dialpool erase --file\` of $ERASE of $stored | **$erase_s** | **$(ratio "$erase_s" "$raw_erase_s") × (c)** |"
    echo
    echo "Reproduce: \`ROWS=$ROWS ERASE=$ERASE benches/compliance.sh\`"
} | tee -a docs/benchmarks.md
