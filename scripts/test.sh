#!/usr/bin/env bash
# Sets up what is missing and runs every test: the Rust tests against a real PostgreSQL
# (each test in a database of its own, dropped afterwards; among them the fault-injection,
# hostile-file, permission-matrix, SFTP and phone-equivalence suites), the UI's lint,
# type-check and unit tests, the OpenAPI drift checks, schema fuzzing of the API, and the
# browser tests in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --browser
scripts/build-ui.sh
echo "== rust tests" >&2
cargo nextest run --workspace --no-fail-fast "$@"
echo "== ui: api types match api/openapi.json, lint, type-check, unit tests" >&2
npm --prefix ui run --silent check:api
npm --prefix ui run --silent lint
npm --prefix ui run --silent typecheck
npm --prefix ui run --silent test
cargo build --quiet -p dialpool-api --bin dialpool
echo "== api: schema fuzzing (schemathesis over /api/openapi.json)" >&2
EXAMPLES=${FUZZ_EXAMPLES:-10} scripts/fuzz-api.sh
echo "== ui: browser test" >&2
npm --prefix ui run --silent test:browser
