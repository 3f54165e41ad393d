#!/usr/bin/env bash
# Sets up what is missing, loads the demo data and serves Dialpool on
# http://127.0.0.1:8080 (DIALPOOL_LISTEN to change); sign in as admin@demo.dialpool.test
# with the password demo-password-1. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build-ui.sh
cargo build --release -p dialpool-api
exec "${CARGO_TARGET_DIR:-target}/release/dialpool" serve --demo "$@"
