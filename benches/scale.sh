#!/usr/bin/env bash
# Every pipeline at 1M, 10M and 50M stored numbers, each against its raw PostgreSQL
# statement in the same run, with peak RSS, the database's size and a chart
# (docs/benchmarks/scale.svg). The database grows stage by stage and is kept, so a run
# that stopped goes on from the stage it reached (FRESH=1 starts over).
#
#   benches/scale.sh                          # 1M, 10M, 50M: about 1.5 h on 2 cores
#   benches/scale.sh 100000 1000000           # a quick look at two sizes
#   DURATION=30 benches/scale.sh              # longer HTTP runs (default 15 s each)
#   BATCH=100000 benches/scale.sh 200000      # smaller measured batches (default 1M)
#
# Needs about 40 GB of disk at 50M. Prints the table for docs/benchmarks.md; the raw
# results stay in bench-data/scale/results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
command -v wrk >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
command -v /usr/bin/time >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
command -v pgbench >/dev/null || { echo "pgbench (postgresql-contrib) is required" >&2; exit 1; }
python3 -c "import matplotlib" 2>/dev/null || python3 -m pip install --quiet matplotlib
scripts/build-ui.sh
cargo build --release --quiet -p dialpool-api -p dialpool-fixtures
mkdir -p bench-data/scale/bin
cp "${CARGO_TARGET_DIR:-target}"/release/{dialpool,dialpool-gen} bench-data/scale/bin/
exec python3 benches/scale.py "$@"
