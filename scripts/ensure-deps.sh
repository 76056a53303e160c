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
# The compose test checks docker-compose.yml with Debian's docker-compose (no Docker engine is
# needed for `config`): installed here so the test never skips silently on a new machine.
if ! command -v docker-compose >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
  echo "ensure-deps: installing docker-compose (Debian package) for the compose test" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose) >&2 || echo "ensure-deps: could not install docker-compose; the compose test will say so" >&2
fi
