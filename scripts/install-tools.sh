#!/usr/bin/env bash
# Installs the tools the embedded stack needs into the git-ignored .tools/ folder.
# The Temporal CLI has no registry binary we can fetch here, so it is built from source via the
# Go module proxy. v1.5.1 is the last release whose go.mod has no `replace` directive, which
# `go install pkg@version` refuses. Reused when the same version is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
TEMPORAL_CLI_VERSION="${TEMPORAL_CLI_VERSION:-v1.5.1}"
TOOLS="$PWD/.tools"
STAMP="$TOOLS/temporal.version"
mkdir -p "$TOOLS/bin"
if [[ -x "$TOOLS/bin/temporal" && -f "$STAMP" && "$(cat "$STAMP")" == "$TEMPORAL_CLI_VERSION" ]]; then
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "install-tools: Go is required to build the Temporal CLI (apt-get install golang, or https://go.dev/dl)" >&2
  exit 1
fi
echo "install-tools: building Temporal CLI $TEMPORAL_CLI_VERSION from source (first run only; about 5 minutes on 2 cores)" >&2
start=$(date +%s)
# -v prints each package as it is compiled: our progress display for the slow first build.
GOBIN="$TOOLS/bin" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install -v "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION" 2>&1 \
  | awk -v s="$start" '{ n++; if (n % 25 == 0) { printf "install-tools: %d packages compiled (%ds)\n", n, systime()-s > "/dev/stderr" } }'
test -x "$TOOLS/bin/temporal"
echo "$TEMPORAL_CLI_VERSION" > "$STAMP"
echo "install-tools: Temporal CLI ready at .tools/bin/temporal ($(( $(date +%s) - start ))s)" >&2
