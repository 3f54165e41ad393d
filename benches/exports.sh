#!/usr/bin/env bash
# Exports of ROWS numbers of one project, against the raw limits measured in the same run
# on the same database:
#   CSV:  `dialpool export --format csv` vs psql `\copy (SELECT …) TO` of the same columns
#         (target: ratio ours/raw <= 1.3);
#   XLSX: `dialpool export --format xlsx` vs Python XlsxWriter in constant-memory mode
#         writing the same rows, read from a CSV (target: at least 3x faster).
#
#   benches/exports.sh [ROWS]      (default 1000000)
#
# Prints the times and ratios; record them in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${1:-1000000}"
DB=dialpool_bench_exports
URL="postgres://postgres@127.0.0.1:5432/$DB"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

scripts/setup.sh
python3 -c "import xlsxwriter" 2>/dev/null || python3 -m pip install --quiet xlsxwriter
cargo build --release --quiet -p dialpool-api
BIN=${CARGO_TARGET_DIR:-target}/release/dialpool

psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
DATABASE_URL=$URL "$BIN" migrate >/dev/null
DATABASE_URL=$URL "$BIN" provider add bench --name Bench --region RU >/dev/null
psql -q "$URL" <<SQL
INSERT INTO projects (tenant_id, name, time_zone, daily_quota) VALUES (1, 'Bench', 'UTC', 1000000);
INSERT INTO phone_numbers (tenant_id, phone, provider_id, geo_id, project_id, allocated_at, import_id, last_import_id,
                           attributes)
  SELECT 1, 79000000000 + i * 7, 1, (SELECT id FROM geos WHERE tenant_id = 1 AND code = 'RU'), 1, now(), 0, 0,
         jsonb_build_object('name', 'Client ' || i, 'city', 'Moscow')
    FROM generate_series(1, $ROWS) i;
VACUUM ANALYZE phone_numbers;
SQL

seconds() { python3 -c "import time; print(f'{time.time() - $1:.2f}')"; }

# The same columns, joins and escaping as the export's file, straight from the table.
RAW_QUERY=$(grep -v '^--' benches/export_raw.sql | sed 's/{project}/1/')
psql -q "$URL" -c "CHECKPOINT"
START=$(date +%s.%N)
psql -q "$URL" -c "\\copy ($(echo "$RAW_QUERY" | tr '\n' ' ')) TO '$WORK/raw.csv' CSV HEADER"
RAW=$(seconds "$START")
echo "raw: psql \\copy  ${RAW} s ($(wc -l < "$WORK/raw.csv") lines)" >&2

psql -q "$URL" -c "CHECKPOINT"
START=$(date +%s.%N)
DATABASE_URL=$URL "$BIN" export --project 1 --format csv --out "$WORK/ours.csv" --json > "$WORK/csv.json"
OURS=$(seconds "$START")
echo "dialpool export --format csv  ${OURS} s" >&2
cmp -s <(tail -n +2 "$WORK/raw.csv" | cut -d, -f1) <(tail -n +2 "$WORK/ours.csv" | cut -d, -f1) \
  || { echo "the two files hold different numbers" >&2; exit 1; }

START=$(date +%s.%N)
python3 - "$WORK/raw.csv" "$WORK/python.xlsx" <<'PY'
import csv, sys
import xlsxwriter
source, target = sys.argv[1], sys.argv[2]
book = xlsxwriter.Workbook(target, {"constant_memory": True})
header = book.add_format({"bold": True})
sheet, row = None, 1048576
with open(source, newline="", encoding="utf-8") as f:
    reader = csv.reader(f)
    titles = next(reader)
    for record in reader:
        if row == 1048576:
            sheet = book.add_worksheet()
            sheet.write_row(0, 0, titles, header)
            row = 1
        sheet.write_string(row, 0, record[0])
        sheet.write_string(row, 1, record[1])
        sheet.write_string(row, 2, record[2])
        sheet.write_string(row, 3, record[3])
        sheet.write_number(row, 4, int(record[4]))
        sheet.write_string(row, 5, record[5])
        sheet.write_string(row, 6, record[6])
        sheet.write_string(row, 7, record[7])
        row += 1
book.close()
PY
PYTHON=$(seconds "$START")
echo "python XlsxWriter (constant memory)  ${PYTHON} s" >&2

START=$(date +%s.%N)
DATABASE_URL=$URL "$BIN" export --project 1 --format xlsx --out "$WORK/ours.xlsx" --json > "$WORK/xlsx.json"
XLSX=$(seconds "$START")
echo "dialpool export --format xlsx  ${XLSX} s" >&2

python3 -c "
print(f'CSV:  raw {$RAW:.2f} s   ours {$OURS:.2f} s   ours/raw {$OURS / $RAW:.2f} (target <= 1.3)')
print(f'XLSX: python {$PYTHON:.2f} s   ours {$XLSX:.2f} s   python/ours {$PYTHON / $XLSX:.1f}x (target >= 3x)')"
