#!/usr/bin/env bash
# Installs the tools the embedded stack needs into the git-ignored .tools/ folder; each is
# reused when the same version is already there. Temporal publishes no registry binary we can
# fetch here, so its programs are built from source via the Go module proxy.
#   bash scripts/install-tools.sh          the dev server's tools (the default; all `npm start` needs)
#   bash scripts/install-tools.sh test     also the tests' Java time-skipping server (`npm test`)
#   bash scripts/install-tools.sh server   also the production-shaped mode's (LETHE_TEMPORAL=server)
set -euo pipefail
cd "$(dirname "$0")/.."
TEMPORAL_CLI_VERSION="${TEMPORAL_CLI_VERSION:-v1.5.1}"
TOOLS="$PWD/.tools"
mkdir -p "$TOOLS/bin"
want_test=false
want_server=false
[[ "${LETHE_TEMPORAL:-}" == server ]] && want_server=true
for arg in "$@"; do
  case "$arg" in
    test) want_test=true ;;
    server) want_server=true ;;
    *) echo "install-tools: unknown argument $arg (expected: test, server)" >&2; exit 2 ;;
  esac
done

# The Java time-skipping test server (Maven Central's io.temporal:temporal-test-server) runs
# the fast workflow tests, and only they: `npm start` never needs Java, Maven or Maven Central.
# Maven resolves it and its dependencies into ~/.m2 once, and a wrapper in .tools/bin starts it
# (`temporal-test-server <port>`).
TEST_SERVER_VERSION="${TEMPORAL_TEST_SERVER_VERSION:-1.31.0}"
TS_DIR="$TOOLS/test-server"
if $want_test && [[ ! -x "$TOOLS/bin/temporal-test-server" || ! -f "$TS_DIR/version" || "$(cat "$TS_DIR/version")" != "$TEST_SERVER_VERSION" ]]; then
  for tool in java mvn; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "install-tools: $tool is required for the time-skipping test server (apt-get install default-jdk-headless maven)" >&2
      exit 1
    fi
  done
  echo "install-tools: resolving the Temporal Java test server $TEST_SERVER_VERSION from Maven Central" >&2
  mkdir -p "$TS_DIR"
  cat > "$TS_DIR/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>lethe.tools</groupId><artifactId>temporal-test-server</artifactId><version>1</version>
  <dependencies><dependency><groupId>io.temporal</groupId><artifactId>temporal-test-server</artifactId><version>$TEST_SERVER_VERSION</version></dependency></dependencies>
</project>
POM
  (cd "$TS_DIR" && mvn -q -B dependency:build-classpath -Dmdep.outputFile=classpath.txt -Dmdep.includeScope=runtime >&2)
  JAR="$(ls "${HOME}/.m2/repository/io/temporal/temporal-test-server/$TEST_SERVER_VERSION/temporal-test-server-$TEST_SERVER_VERSION.jar")"
  cat > "$TOOLS/bin/temporal-test-server" <<WRAP
#!/usr/bin/env bash
# Temporal's time-skipping test server (Java), written by scripts/install-tools.sh.
exec java -XX:TieredStopAtLevel=1 -cp "\$(cat "$TS_DIR/classpath.txt"):$JAR" io.temporal.testserver.TestServer "\$@"
WRAP
  chmod +x "$TOOLS/bin/temporal-test-server"
  echo "$TEST_SERVER_VERSION" > "$TS_DIR/version"
fi

# Builds `pkg@version` with the Go module proxy into .tools/bin/<name> unless that version is
# already there. `go install` names the binary after the package's folder (three of ours are
# called `server`), so each is built into a folder of its own and renamed.
go_tool() {
  local pkg="$1" version="$2" name="$3" why="$4" minutes="$5"
  local stamp="$TOOLS/$name.version"
  if [[ -x "$TOOLS/bin/$name" && -f "$stamp" && "$(cat "$stamp")" == "$version" ]]; then
    return 0
  fi
  if ! command -v go >/dev/null 2>&1; then
    echo "install-tools: Go is required to build $why (apt-get install golang, or https://go.dev/dl)" >&2
    exit 1
  fi
  echo "install-tools: building $why $version from source (first run only; about $minutes minutes on 2 cores)" >&2
  local start build
  start=$(date +%s)
  build="$(mktemp -d "$TOOLS/build.XXXXXX")"
  # -v prints each package as it is compiled: our progress display for the slow first build.
  if ! GOBIN="$build" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install -v "$pkg@$version" 2>&1 | tee "$build/go.log" \
    | awk -v s="$start" -v n="$name" '{ k++; if (k % 25 == 0) { printf "install-tools: %s: %d packages compiled (%ds)\n", n, k, systime()-s > "/dev/stderr" } }'; then
    echo "install-tools: building $why failed; last lines of the Go output:" >&2
    tail -n 20 "$build/go.log" >&2
    rm -rf "$build"
    exit 1
  fi
  mv "$build/$(basename "$pkg")" "$TOOLS/bin/$name"
  rm -rf "$build"
  echo "$version" > "$stamp"
  echo "install-tools: $name $version ready at .tools/bin/$name ($(( $(date +%s) - start ))s)" >&2
}

# The Temporal CLI: `temporal server start-dev` (the default dev server, SQLite) and the
# operator commands. v1.5.1 is the last release whose go.mod has no `replace` directive, which
# `go install pkg@version` refuses.
go_tool github.com/temporalio/cli/cmd/temporal "$TEMPORAL_CLI_VERSION" temporal "the Temporal CLI" 5

# Mailpit, the embedded stack's mail catcher (dev/stack/mailpit.ts): Lethe's outbound mail goes
# to its SMTP port and a person (or a test) reads it on its HTTP API. `npm start` runs it, so it
# is one of the default tools. Its Go module lacks the web page's built assets (they need npm
# packages); the SMTP server and the API v1 work without them.
MAILPIT_VERSION="${MAILPIT_VERSION:-v1.33.1}"
go_tool github.com/axllent/mailpit "$MAILPIT_VERSION" mailpit "Mailpit (the mail catcher)" 3

# The production-shaped mode (LETHE_TEMPORAL=server, dev/stack/temporal-server.ts) runs what
# docker-compose.yml runs, built from the same releases as its images: the Temporal server
# (temporalio/auto-setup:1.29.1) with its SQL schema tool, and the Web UI server
# (temporalio/ui:2.42.1). Built only when that mode is asked for (`install-tools.sh server`
# or LETHE_TEMPORAL=server): the dev server is the default and needs none of them.
# go.temporal.io/server v1.29.1 is the only v1.29.x the module proxy serves; its go.mod and
# ui-server's have no `replace`.
if $want_server; then
  TEMPORAL_SERVER_VERSION="${TEMPORAL_SERVER_VERSION:-v1.29.1}"
  TEMPORAL_UI_VERSION="${TEMPORAL_UI_VERSION:-v2.42.1}"
  go_tool go.temporal.io/server/cmd/server "$TEMPORAL_SERVER_VERSION" temporal-server "the Temporal server" 8
  go_tool go.temporal.io/server/cmd/tools/sql "$TEMPORAL_SERVER_VERSION" temporal-sql-tool "Temporal's SQL schema tool" 1
  go_tool github.com/temporalio/ui-server/v2/cmd/server "$TEMPORAL_UI_VERSION" temporal-ui-server "the Temporal Web UI server" 2
  # Two files the images ship, taken from the modules so the local mode reads them as the
  # containers do: the UI's env-driven config template (TEMPORAL_ADDRESS, TEMPORAL_CORS_ORIGINS,
  # TEMPORAL_CODEC_ENDPOINT, ... as compose gives temporal-ui), and the server's dynamic config
  # (the images' /etc/temporal/config/dynamicconfig/docker.yaml).
  module_file() {
    local module="$1" version="$2" file="$3" dest="$4"
    if [[ -f "$dest" && -f "$dest.version" && "$(cat "$dest.version")" == "$version" ]]; then return 0; fi
    local dir
    dir="$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    if [[ ! -f "$dir/$file" ]]; then
      echo "install-tools: $file is missing from the download of $module@$version ($dir)" >&2
      exit 1
    fi
    mkdir -p "$(dirname "$dest")"
    install -m 0644 "$dir/$file" "$dest"
    echo "$version" > "$dest.version"
  }
  module_file github.com/temporalio/ui-server/v2 "$TEMPORAL_UI_VERSION" config/docker.yaml "$TOOLS/temporal-ui/config/docker.yaml"
  module_file go.temporal.io/server "$TEMPORAL_SERVER_VERSION" config/dynamicconfig/docker.yaml "$TOOLS/temporal-server/dynamicconfig/docker.yaml"
fi
