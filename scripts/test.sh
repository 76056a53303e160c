#!/usr/bin/env bash
# `npm test`: installs what is missing, runs the static checks (types, formatting, lint), then
# jest against the real stack it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
# Node 24 from node_modules (ensure-deps.sh) for the checks, jest and its workers, and the stack the
# tests start (spawned with process.execPath), also when this runs outside npm.
export PATH="$PWD/node_modules/.bin:$PATH"
bash scripts/ensure-test-packages.sh
bash scripts/check.sh
# The Java time-skipping test server (test/workflows/), and the production-shaped Temporal server, which
# test/secure/ runs with mutual TLS: installed into .tools on first use only (`npm start` needs neither).
bash scripts/install-tools.sh test server
exec npx jest --ci --maxWorkers=2 "$@"
