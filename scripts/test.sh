#!/usr/bin/env bash
# `npm test`: installs what is missing, runs the static checks (types, formatting, lint), then
# jest against the real stack it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
bash scripts/ensure-test-packages.sh
bash scripts/check.sh
exec npx jest --ci --maxWorkers=2 "$@"
