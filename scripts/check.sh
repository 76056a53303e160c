#!/usr/bin/env bash
# The static checks `npm test` runs before jest; each stops the run on the first failure, with
# the tool's own output: the type check, the formatting, then ESLint (type-aware, no warnings).
# Assumes dependencies are installed (scripts/ensure-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "check: tsc --noEmit -p ." >&2
npx tsc --noEmit -p .
echo "check: prettier --check ." >&2
npx prettier --check --log-level warn .
echo "check: eslint --max-warnings 0 ." >&2
npx eslint --max-warnings 0 .
