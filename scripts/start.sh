#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
# Node 24 from node_modules (ensure-deps.sh), also when this runs outside npm (`bash scripts/start.sh`).
export PATH="$PWD/node_modules/.bin:$PATH"
exec node --import tsx scripts/start.ts "$@"
