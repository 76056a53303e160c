#!/usr/bin/env bash
# `npm test`: installs what is missing, then runs jest against the real stack it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
exec npx jest --ci --maxWorkers=2 "$@"
