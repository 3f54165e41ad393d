#!/usr/bin/env bash
# Schema fuzzing: schemathesis (PyPI) sends generated requests to every operation of
# /api/openapi.json on a real `dialpool serve` with a fresh database, signed in with an
# API token holding every permission, and fails on a server error or a response that
# breaks the document (status, content type, body schema). Bounded: EXAMPLES per
# operation (default 25).
#
#   scripts/fuzz-api.sh            # as scripts/test.sh runs it
#   EXAMPLES=200 scripts/fuzz-api.sh
set -euo pipefail
cd "$(dirname "$0")/.."
EXAMPLES=${EXAMPLES:-25}
BIN=${CARGO_TARGET_DIR:-target}/debug/dialpool
PY=${DIALPOOL_PYTHON_DEPS:-${HOME:-/tmp}/.cache/dialpool-python}
SERVER=${DIALPOOL_TEST_DATABASE_URL:-${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}}
SERVER=${SERVER%/*}
DB=dialpool_fuzz_$$
work=$(mktemp -d /tmp/dialpool-fuzz.XXXXXX)
cleanup() {
    [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    psql -X -q "$SERVER/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# Outward side effects stay on this machine: webhooks may only reach loopback (where
# nothing listens), remote SFTP hosts are generated names that do not resolve.
DATABASE_URL="$SERVER/$DB" DIALPOOL_ADMIN_EMAIL=fuzz@example.com DIALPOOL_ADMIN_PASSWORD='fuzz password long' \
    DIALPOOL_SFTP_LISTEN=off DIALPOOL_SCHEDULE_TICK_S=0 DIALPOOL_LOG=warn \
    "$BIN" serve --listen 127.0.0.1:0 --data-dir "$work/data" > "$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 120); do
    url=$(grep -oE 'serving on http://[0-9.:]+' "$work/serve.log" | head -1 | cut -d' ' -f3 || true)
    [ -n "$url" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
    sleep 0.5
done
[ -n "$url" ] || { echo "the server did not start" >&2; cat "$work/serve.log" >&2; exit 1; }

# A token with every permission, made by the first administrator.
jar="$work/cookies"
curl -sf -c "$jar" -H 'content-type: application/json' \
    -d '{"email":"fuzz@example.com","password":"fuzz password long"}' "$url/api/v1/auth/login" > "$work/me.json"
csrf=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["csrf_token"])' "$work/me.json")
permissions=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["permissions"]))' "$work/me.json")
token=$(curl -sf -b "$jar" -H "x-csrf-token: $csrf" -H 'content-type: application/json' \
    -d "{\"name\":\"fuzz\",\"permissions\":$permissions}" "$url/api/v1/tokens" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')

echo "== schemathesis: $EXAMPLES examples per operation against $url" >&2
# One worker: with two, hypothesis parses its strategies' source in two threads at once,
# and CPython 3.11 (before 3.11.8, cpython#106905) can then fail the parse with
# "AST constructor recursion depth mismatch", a crash of the fuzzer, not of the server.
# Left out: what would lock the fuzzer out of its own session (revoking its token,
# disabling or re-roling its user, changing its password, signing out); the permission
# matrix and the API tests cover them.
PYTHONPATH="$PY" "$PY/bin/st" run "$url/api/openapi.json" \
    --header "Authorization: Bearer $token" \
    --exclude-path /api/v1/tokens/{id} --exclude-path /api/v1/users/{id} --exclude-path /api/v1/me/password \
    --exclude-path /api/v1/auth/logout --exclude-path /api/v1/auth/login \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$EXAMPLES" --workers 1 --seed 1 \
    --suppress-health-check all --no-color "$@"
