#!/usr/bin/env bash
# Sets up what is missing and runs every test: unit tests and integration tests against a
# real PostgreSQL (each test in a database of its own, dropped afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo nextest run --workspace --no-fail-fast "$@"
