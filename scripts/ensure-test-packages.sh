#!/usr/bin/env bash
set -euo pipefail
# What the tests need from Debian, installed by `npm test` (before jest collects a file) so no test can
# vanish into "skipped" on a new machine: docker-compose checks docker-compose.yml (`config`
# needs no Docker engine), chromium drives the Temporal Web UI in the browser test. A test whose
# package is still missing fails and names the package.
missing=()
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
if (( ${#missing[@]} )); then
  if command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
    echo "ensure-test-packages: installing ${missing[*]} (Debian packages) for the tests" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >&2 || echo "ensure-test-packages: could not install ${missing[*]}; the tests that need them will fail saying so" >&2
  else
    echo "ensure-test-packages: missing ${missing[*]}: install them (sudo apt-get install ${missing[*]}); the tests that need them will fail until then" >&2
  fi
fi
