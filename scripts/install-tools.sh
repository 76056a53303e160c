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

# The Java time-skipping test server (Maven Central's io.temporal:temporal-test-server) runs
# the fast workflow tests; Maven resolves it and its dependencies into ~/.m2 once, and a
# wrapper in .tools/bin starts it (`temporal-test-server <port>`).
TEST_SERVER_VERSION="${TEMPORAL_TEST_SERVER_VERSION:-1.31.0}"
TS_DIR="$TOOLS/test-server"
if [[ ! -x "$TOOLS/bin/temporal-test-server" || ! -f "$TS_DIR/version" || "$(cat "$TS_DIR/version")" != "$TEST_SERVER_VERSION" ]]; then
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
