#!/usr/bin/env bash
# test.sh — every test of normreg, with the services they need, on a fresh machine.
#
# Installs (once, pinned, from the Go module proxy) versitygw, oras, the OCI conformance suite and
# CNCF distribution (scripts/tools.sh), starts a real S3 server (scripts/s3.sh), then runs:
#   1. gofmt, go vet and staticcheck
#   2. go test -race ./...            (storage and API tests on the fs driver AND on S3; NORMREG_TEST_REQUIRE=1
#                                      turns every missing service into a failure, never a skip)
#   3. the OCI conformance suite against the registry on storage/fs and on S3
#   4. a real oras client (push, tag, pull by digest, attach, discover via the referrers API) on both
# The last line is "total: N passed, N failed". Exit status 0 only when nothing failed.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/normreg-test.XXXXXX")
PIDS=()
export NORMREG_S3_PORT=${NORMREG_S3_PORT:-$((19000 + RANDOM % 1000))}
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  scripts/s3.sh stop >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

PASSED=0 FAILED=0
step() { echo; echo "=== $*"; }
tally() { # name status
  if [ "$2" = 0 ]; then PASSED=$((PASSED + 1)); echo "--- PASS: $1"; else FAILED=$((FAILED + 1)); echo "--- FAIL: $1"; fi
}

step "tools"
TOOLS=$(scripts/tools.sh) || { echo "installing the test tools failed"; echo "total: 0 passed, 1 failed"; exit 1; }
export NORMREG_TOOLS_BIN=$TOOLS
echo "tools in $TOOLS"

step "S3 server (versitygw) on 127.0.0.1:$NORMREG_S3_PORT"
S3ENV=$(scripts/s3.sh start) || { echo "starting S3 failed"; echo "total: 0 passed, 1 failed"; exit 1; }
eval "$S3ENV"
export NORMREG_TEST_REQUIRE=1

step "gofmt, go vet, staticcheck"
unformatted=$(gofmt -l $(git ls-files '*.go'))
[ -z "$unformatted" ] || echo "not gofmt-ed: $unformatted"
tally gofmt "$([ -z "$unformatted" ] && echo 0 || echo 1)"
go vet ./...; tally "go vet" $?
"$TOOLS/staticcheck" ./...; tally staticcheck $?

step "go test -race ./..."
go test -race -count=1 -v -timeout 20m ./... >"$WORK/gotest.log" 2>&1
rc=$?
grep -E '^(ok|FAIL|---|panic:)|^\s+--- (FAIL|SKIP)' "$WORK/gotest.log" | grep -v -- '--- PASS'
if [ $rc != 0 ]; then
  echo "go test failed; failing output:"; grep -B2 -A30 -E -- '--- FAIL|^panic:' "$WORK/gotest.log" | head -300
fi
gp=$(grep -cE '^\s*--- PASS' "$WORK/gotest.log"); gf=$(grep -cE '^\s*--- FAIL' "$WORK/gotest.log")
gs=$(grep -cE '^\s*--- SKIP' "$WORK/gotest.log")
echo "go test: $gp passed, $gf failed, $gs skipped"
PASSED=$((PASSED + gp)); FAILED=$((FAILED + gf))
[ $rc = 0 ] || [ "$gf" -gt 0 ] || FAILED=$((FAILED + 1)) # a build failure or panic counts too

step "build the registry"
go build -o "$WORK/registry" ./cmd/registry; tally "build registry" $?

free_port() { echo $((20000 + RANDOM % 20000)); }
start_registry() { # storage-url -> sets URL (not in a subshell, so that cleanup knows its PID)
  local port log
  port=$(free_port); log="$WORK/registry-$port.log"
  "$WORK/registry" --listen "127.0.0.1:$port" --storage "$1" >"$log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && { URL="http://127.0.0.1:$port"; return 0; }
    sleep 0.1
  done
  echo "registry on $1 did not start:" >&2; cat "$log" >&2; return 1
}

for storage in "file://$WORK/fs-data" "s3://$NORMREG_TEST_S3_BUCKET/conformance-$$?endpoint=$NORMREG_TEST_S3_ENDPOINT&region=$AWS_REGION"; do
  kind=${storage%%:*}
  step "registry on $kind: OCI conformance suite and oras"
  if start_registry "$storage"; then
    out=$(scripts/conformance.sh "$URL" 2>&1); rc=$?
    echo "$out" | tail -40
    tally "conformance ($kind): $(echo "$out" | tail -1)" $rc
    scripts/oras-smoke.sh "$URL"; tally "oras ($kind)" $?
  else
    tally "registry start ($kind)" 1
  fi
done

echo
echo "total: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
