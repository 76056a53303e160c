#!/usr/bin/env bash
# Installs npm dependencies when they are missing or older than the lock file, then the tools.
# Shared by `npm start` and `npm test` so a fresh clone needs nothing done by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -d node_modules || ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "ensure-deps: installing npm dependencies" >&2
  npm ci --no-audit --no-fund >&2
fi
bash scripts/install-tools.sh
