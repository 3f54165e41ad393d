#!/usr/bin/env bash
# A partner's file over SFTP against the same file's CLI import, in one run.
#
#   benches/sftp.sh [ROWS]        # default 1M rows
#
# (a) `dialpool import FILE` into a fresh database: the CLI's own time;
# (b) `dialpool serve` (SFTP on loopback, one job worker) on another fresh database:
#     from the start of OpenSSH's `sftp put` until the import job has succeeded — the
#     upload, the content hash, the queue, the import and the delivery to processed/.
# (c) a remote host: OpenSSH's sshd on loopback holds the file; `dialpool sftp remote run`
#     pulls it (download, hash, fingerprint, queued import) and `dialpool jobs work`
#     imports it, on a third fresh database: from the start of the pull until the
#     import job has succeeded.
# Target: (b) / (a) <= 1.2; (c) is reported against (a) too. Results go to
# docs/benchmarks.md by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
DATA=${BENCH_DATA:-bench-data}
SERVER=${BENCH_SERVER:-postgres://postgres@127.0.0.1:5432}
PORT=${BENCH_SFTP_PORT:-2399}

scripts/setup.sh
cargo build --release -q -p dialpool-api -p dialpool-fixtures
BIN=${CARGO_TARGET_DIR:-target}/release
mkdir -p "$DATA"
raw="$DATA/numbers-$ROWS.csv"
[ -s "$raw" ] || { echo "generating $ROWS rows"; $BIN/dialpool-gen csv --rows "$ROWS" --out "$raw" --normalised "$DATA/normalised-$ROWS.csv"; }
WORK=$(mktemp -d)
SERVE=
SSHD=
WORKER=
cleanup() {
    for pid in $SERVE $SSHD $WORKER; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

fresh_db() {
    psql -X -q "$SERVER/postgres" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1"
    DATABASE_URL="$SERVER/$1" $BIN/dialpool migrate >/dev/null
    DATABASE_URL="$SERVER/$1" $BIN/dialpool provider add bench --name Bench --region RU >/dev/null
    psql -X -q "$SERVER/$1" -c "CHECKPOINT"
}
now() { date +%s.%N; }
# Waits until the database's one import job has ended and sets t2 to that moment; fails
# unless the job succeeded.
wait_for_import() {
    until [ "$(psql -X -Atq "$1" -c "SELECT count(*) FROM jobs WHERE kind = 'import' AND state IN ('succeeded', 'dead', 'retrying')")" = 1 ]; do
        sleep 0.05
    done
    t2=$(now)
    local state
    state=$(psql -X -Atq "$1" -c "SELECT state FROM jobs WHERE kind = 'import'")
    [ "$state" = succeeded ] || { echo "the import job ended $state" >&2; exit 1; }
}
elapsed() { echo "$2 - $1" | bc -l | xargs printf '%.2f'; }

echo "(a) dialpool import (CLI)"
fresh_db dialpool_bench_sftp_cli
t0=$(now)
DATABASE_URL="$SERVER/dialpool_bench_sftp_cli" $BIN/dialpool import "$raw" --provider bench -q --json > "$WORK/cli.json"
cli_s=$(elapsed "$t0" "$(now)")
echo "    ${cli_s}s"

echo "(b) sftp put, then the import job"
DB=dialpool_bench_sftp
fresh_db $DB
ssh-keygen -q -t ed25519 -N "" -f "$WORK/key"
DATABASE_URL="$SERVER/$DB" $BIN/dialpool sftp account add bench-drop --provider bench --key "$WORK/key.pub" >/dev/null
DATABASE_URL="$SERVER/$DB" DIALPOOL_LOG=warn DIALPOOL_ADMIN_PASSWORD="bench password long" \
    $BIN/dialpool serve --listen 127.0.0.1:0 --data-dir "$WORK/data" --sftp-listen "127.0.0.1:$PORT" \
    --jobs-concurrency 1 --schedule-tick-s 0 2> "$WORK/serve.log" &
SERVE=$!
for _ in $(seq 1 100); do grep -q "SFTP for partners on" "$WORK/serve.log" && break; sleep 0.1; done
cp "$raw" "$WORK/numbers.csv"
echo "put numbers.csv /inbox/numbers.csv" > "$WORK/batch"
t0=$(now)
(cd "$WORK" && sftp -q -P "$PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes \
    -i "$WORK/key" -b "$WORK/batch" bench-drop@127.0.0.1 >/dev/null)
t1=$(now)
wait_for_import "$SERVER/$DB"
cli_rows=$(psql -X -Atq "$SERVER/dialpool_bench_sftp_cli" -c "SELECT count(*) FROM phone_numbers")
sftp_rows=$(psql -X -Atq "$SERVER/$DB" -c "SELECT count(*) FROM phone_numbers")
[ "$cli_rows" = "$sftp_rows" ] || { echo "different numbers: CLI $cli_rows, SFTP $sftp_rows" >&2; exit 1; }
upload_s=$(elapsed "$t0" "$t1"); sftp_s=$(elapsed "$t0" "$t2")
echo "    upload ${upload_s}s, until imported ${sftp_s}s, $sftp_rows numbers"
python3 -c "print(f'sftp/cli {$sftp_s / $cli_s:.2f} (target <= 1.2)')"
kill "$SERVE"
SERVE=

echo "(c) a pull from a remote host (OpenSSH sshd on loopback), then the import job"
DB=dialpool_bench_sftp_pull
fresh_db $DB
SSHD_PORT=$((PORT + 1))
mkdir -p "$WORK/remote" "$WORK/sshd"
mkdir -p /run/sshd 2>/dev/null || true
cp "$raw" "$WORK/remote/numbers.csv"
ssh-keygen -q -t ed25519 -N "" -f "$WORK/sshd/host_key"
cp "$WORK/key.pub" "$WORK/sshd/authorized_keys"
printf '%s\n' "Port $SSHD_PORT" "ListenAddress 127.0.0.1" "HostKey $WORK/sshd/host_key" \
    "PidFile $WORK/sshd/pid" "AuthorizedKeysFile $WORK/sshd/authorized_keys" "StrictModes no" "UsePAM no" \
    "PasswordAuthentication no" "KbdInteractiveAuthentication no" "PermitRootLogin prohibit-password" \
    "Subsystem sftp internal-sftp" > "$WORK/sshd/config"
/usr/sbin/sshd -D -e -f "$WORK/sshd/config" 2> "$WORK/sshd/log" &
SSHD=$!
for _ in $(seq 1 100); do grep -q "Server listening" "$WORK/sshd/log" && break; sleep 0.1; done
pull_db="$SERVER/$DB"
DATABASE_URL="$pull_db" $BIN/dialpool sftp remote add bench-remote --host 127.0.0.1 --port "$SSHD_PORT" \
    --user "$(id -un)" --key "$WORK/key" --direction pull_numbers --provider bench --dir "$WORK/remote" \
    --pattern '*.csv' --data-dir "$WORK/data" >/dev/null
DATABASE_URL="$pull_db" $BIN/dialpool sftp remote test 1 --data-dir "$WORK/data" >/dev/null || true
DATABASE_URL="$pull_db" $BIN/dialpool sftp remote trust 1 "$(ssh-keygen -lf "$WORK/sshd/host_key.pub" | cut -d' ' -f2)" >/dev/null
DATABASE_URL="$pull_db" DIALPOOL_LOG=warn $BIN/dialpool jobs work --data-dir "$WORK/data" --concurrency 1 \
    2> "$WORK/worker.log" &
WORKER=$!
t0=$(now)
DATABASE_URL="$pull_db" $BIN/dialpool sftp remote run 1 --data-dir "$WORK/data" >/dev/null
t1=$(now)
wait_for_import "$pull_db"
pull_rows=$(psql -X -Atq "$pull_db" -c "SELECT count(*) FROM phone_numbers")
[ "$cli_rows" = "$pull_rows" ] || { echo "different numbers: CLI $cli_rows, pull $pull_rows" >&2; exit 1; }
pull_s=$(elapsed "$t0" "$t1"); pulled_s=$(elapsed "$t0" "$t2")
echo "    pull ${pull_s}s, until imported ${pulled_s}s, $pull_rows numbers"
python3 -c "print(f'pull/cli {$pulled_s / $cli_s:.2f}')"
