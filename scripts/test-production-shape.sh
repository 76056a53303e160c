#!/usr/bin/env bash
# The production-shaped pass: the end-to-end suites that matter most for what operators deploy
# (deletion, sweep, reliability) on the Temporal server with PostgreSQL persistence and SQL
# visibility (LETHE_TEMPORAL=server, dev/stack/temporal-server.ts) instead of the dev server,
# plus the check that docker-compose.yml sets up the same Temporal. About 8 minutes on 2 cores
# (load-faults is the long pole), after a first build of the server of about 10.
#   bash scripts/test-production-shape.sh [jest options]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
export PATH="$PWD/node_modules/.bin:$PATH"
export LETHE_TEMPORAL=server
# Built before jest starts, so its global setup does not spend its first minutes compiling.
bash scripts/install-tools.sh server
# schedule-start.test.ts is left out: its stack borrows the shared stack's PostgreSQL through
# DATABASE_URL, and the production-shaped Temporal keeps its databases in a PostgreSQL of its own
# stack (it refuses DATABASE_URL, naming it). What it tests (the worker creating the Schedule)
# does not depend on Temporal's persistence.
exec npx jest --ci --maxWorkers=2 --testPathIgnorePatterns 'test/sweep/schedule-start\.test\.ts' -- \
  test/deletion test/sweep test/reliability test/stack/compose-agreement.test.ts "$@"
