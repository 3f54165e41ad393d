#!/usr/bin/env bash
# Runs the Rust tests with every clock a year ahead (Debian's libfaketime), the test
# processes' and a throwaway PostgreSQL's alike: a test that mixes the real clock with a
# fixed instant fails here long before that instant passes.
#
#   scripts/test-year-ahead.sh            # +365 days
#   AHEAD=+730d scripts/test-year-ahead.sh
set -euo pipefail
cd "$(dirname "$0")/.."
AHEAD=${AHEAD:-+365d}
PORT=${PORT:-5499}
command -v faketime >/dev/null || { apt-get update -qq && apt-get install -y -qq faketime >/dev/null; }
lib=$(dirname "$(command -v faketime)")/../lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
bin=/usr/lib/postgresql/$(ls /etc/postgresql | sort -n | tail -1)/bin
data=$(mktemp -d /tmp/dialpool-ahead.XXXXXX)
chown postgres "$data"
cleanup() { su postgres -c "$bin/pg_ctl -D $data -m immediate stop" >/dev/null 2>&1 || true; rm -rf "$data"; }
trap cleanup EXIT
su postgres -c "$bin/initdb -A trust -U postgres -D $data" >/dev/null
su postgres -c "LD_PRELOAD=$lib FAKETIME=$AHEAD FAKETIME_DONT_FAKE_MONOTONIC=1 $bin/pg_ctl -D $data -l $data/log -o '-p $PORT -k /tmp -c listen_addresses=127.0.0.1' -w start" >/dev/null
echo "PostgreSQL on $PORT thinks it is $(psql -X -Atc 'select now()' "postgres://postgres@127.0.0.1:$PORT/postgres")" >&2
echo "the tests think it is $(env LD_PRELOAD=$lib FAKETIME=$AHEAD date -u +%FT%TZ)" >&2
cargo nextest run --workspace --no-run >/dev/null
# Only the test binaries run with the clock ahead (nextest's target runner): nextest
# itself does not run under libfaketime.
CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="env LD_PRELOAD=$lib FAKETIME=$AHEAD FAKETIME_DONT_FAKE_MONOTONIC=1" \
    DIALPOOL_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$PORT/postgres" \
    cargo nextest run --workspace --no-fail-fast "$@"
