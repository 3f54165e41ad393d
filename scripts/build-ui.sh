#!/usr/bin/env bash
# Builds the admin UI into ui/dist, which `dialpool` embeds when it is compiled.
set -euo pipefail
cd "$(dirname "$0")/.."
npm --prefix ui run build --silent >/dev/null
