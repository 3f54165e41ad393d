#!/usr/bin/env bash
# Import speed against PostgreSQL's own limit, measured in the same run on the same rows.
#
#   benches/import.sh                 # 10M rows, as in docs/benchmarks.md
#   ROWS=1000000 benches/import.sh    # a quicker look
#
# (a) the raw limit: `psql \copy` of the already-normalised rows into an unlogged staging
#     table, then one INSERT .. SELECT .. ON CONFLICT into the same partitioned, indexed
#     phone_numbers the import fills (geos resolved by a join);
# (b) `dialpool import` of the raw file: decoding, parsing, normalising and validating every
#     number, de-duplicating, classifying every rejected row and writing the rejects file.
# Then a 1M-row XLSX import. Results are appended to docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-10000000}
XLSX_ROWS=${XLSX_ROWS:-1000000}
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
xlsx="$DATA/numbers-$XLSX_ROWS.xlsx"
[ -s "$xlsx" ] || { echo "generating $XLSX_ROWS XLSX rows"; $BIN/dialpool-gen xlsx --rows "$XLSX_ROWS" --out "$xlsx"; }

fresh_db() {
    psql -X -q "$SERVER/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
    DATABASE_URL="$SERVER/$DB" $BIN/dialpool migrate >/dev/null
    DATABASE_URL="$SERVER/$DB" $BIN/dialpool provider add bench --name Bench --region RU >/dev/null
    "${PSQL[@]}" -c "CHECKPOINT"
}
now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l | xargs printf '%.1f'; }

echo "(a) raw PostgreSQL: \\copy + INSERT .. ON CONFLICT"
fresh_db
"${PSQL[@]}" -c "CREATE UNLOGGED TABLE bench_staging (phone bigint, country text, attributes jsonb)"
t0=$(now)
"${PSQL[@]}" -c "\\copy bench_staging FROM '$normalised' (FORMAT csv)"
t1=$(now)
"${PSQL[@]}" -c "INSERT INTO phone_numbers (tenant_id, phone, provider_id, geo_id, import_id, last_import_id, attributes)
                 SELECT 1, s.phone, p.id, g.id, 0, 0, s.attributes
                 FROM bench_staging s
                 CROSS JOIN (SELECT id FROM providers WHERE code = 'bench') p
                 LEFT JOIN geos g ON g.tenant_id = 1 AND g.code = s.country
                 ON CONFLICT (tenant_id, phone) DO NOTHING"
t2=$(now)
raw_rows=$("${PSQL[@]}" -Atc "SELECT count(*) FROM phone_numbers")
copy_s=$(elapsed "$t0" "$t1"); merge_s=$(elapsed "$t1" "$t2"); raw_s=$(elapsed "$t0" "$t2")
echo "    copy ${copy_s}s, merge ${merge_s}s, total ${raw_s}s, $raw_rows numbers"

echo "(b) dialpool import"
fresh_db
/usr/bin/time -f "%e %M %U %S" -o "$DATA/time.txt" env DATABASE_URL="$SERVER/$DB" \
    $BIN/dialpool import "$raw" --provider bench -q --json --rejects "$DATA/rejects.csv" > "$DATA/summary.json"
read -r import_s import_kb import_user import_sys < "$DATA/time.txt"
# The client's own CPU (decoding, parsing and validating every number): what the phone
# library costs shows here, whatever the database does.
client_cpu=$(echo "$import_user + $import_sys" | bc -l | xargs printf '%.1f')
import_rows=$("${PSQL[@]}" -Atc "SELECT count(*) FROM phone_numbers")
ratio=$(echo "$import_s / $raw_s" | bc -l | xargs printf '%.2f')
echo "    ${import_s}s, client CPU ${client_cpu}s, peak RSS $((import_kb / 1024)) MB, $import_rows numbers, ratio $ratio"
[ "$raw_rows" = "$import_rows" ] || echo "    WARNING: (a) stored $raw_rows numbers, (b) $import_rows"

echo "(c) dialpool import of a $XLSX_ROWS-row XLSX"
fresh_db
/usr/bin/time -f "%e %M" -o "$DATA/time.txt" env DATABASE_URL="$SERVER/$DB" \
    $BIN/dialpool import "$xlsx" --provider bench -q --json --rejects "$DATA/rejects-xlsx.csv" > "$DATA/summary-xlsx.json"
read -r xlsx_s xlsx_kb < "$DATA/time.txt"
echo "    ${xlsx_s}s, peak RSS $((xlsx_kb / 1024)) MB"
psql -X -q "$SERVER/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"

summary=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(", ".join(f"{k} {s[k]}" for k in ("total","inserted","duplicate_in_file","invalid")))' "$DATA/summary.json")
{
    echo
    echo "### $(date -u +%Y-%m-%d) — import, $ROWS rows ($(git rev-parse --short HEAD 2>/dev/null || echo unknown))"
    echo
    echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(psql -X -Atc 'SHOW server_version' "$SERVER/postgres" | cut -d' ' -f1). File: $(du -m "$raw" | cut -f1) MB; $summary."
    echo
    echo "| step | seconds | rows/s | peak RSS |"
    echo "|---|---|---|---|"
    echo "| (a) \`psql \\copy\` of normalised rows into unlogged staging | $copy_s | | |"
    echo "| (a) \`INSERT .. SELECT .. ON CONFLICT\` into phone_numbers | $merge_s | | |"
    echo "| (a) raw PostgreSQL limit, total | **$raw_s** | $(echo "$ROWS / $raw_s" | bc) | |"
    echo "| (b) \`dialpool import\` of the raw file | **$import_s** | $(echo "$ROWS / $import_s" | bc) | $((import_kb / 1024)) MB |"
    echo "| (b)/(a) | **$ratio** | | |"
    echo "| (b) client CPU (user + system) | $client_cpu | $(echo "$ROWS / $client_cpu" | bc) | |"
    echo "| (c) \`dialpool import\` of a $XLSX_ROWS-row XLSX | $xlsx_s | $(echo "$XLSX_ROWS / $xlsx_s" | bc) | $((xlsx_kb / 1024)) MB |"
    echo
    echo "Reproduce: \`ROWS=$ROWS benches/import.sh\`"
} | tee -a docs/benchmarks.md
