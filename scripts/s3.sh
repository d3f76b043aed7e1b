#!/usr/bin/env bash
# s3.sh start|stop — run a real S3 server (versitygw) on 127.0.0.1 for the tests.
#
#   eval "$(scripts/s3.sh start)"   starts it (installing it first if needed) and prints
#                                   the NORMREG_TEST_S3_* and AWS_* variables the tests read
#   scripts/s3.sh stop              stops it (waiting up to 5 s for it to exit) and removes its data
#
# NORMREG_S3_PORT (default 9070) and NORMREG_S3_DIR (default /tmp/normreg-s3-$PORT) choose
# where it listens and keeps data. One bucket, "normreg-test", is created.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=${NORMREG_S3_PORT:-9070}
STATE=${NORMREG_S3_DIR:-${TMPDIR:-/tmp}/normreg-s3-$PORT}
AK=normregtest SK=normregtest-secret-not-secret
ENDPOINT=http://127.0.0.1:$PORT

case "${1:-}" in
start)
  BIN=$("$ROOT/scripts/tools.sh" versitygw)/versitygw
  mkdir -p "$STATE/data"
  healthy() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$ENDPOINT/health" || true)" = 200 ]; }
  if [ -f "$STATE/pid" ] && kill -0 "$(cat "$STATE/pid")" 2>/dev/null && healthy; then
    echo "s3: already running (pid $(cat "$STATE/pid"))" >&2
  else
    # A server just killed may not have exited yet: give it 5 s to let go of the port.
    if [ -f "$STATE/pid" ]; then
      for _ in $(seq 1 50); do kill -0 "$(cat "$STATE/pid")" 2>/dev/null || break; sleep 0.1; done
    fi
    ROOT_ACCESS_KEY_ID=$AK ROOT_SECRET_ACCESS_KEY=$SK nohup "$BIN" --port "127.0.0.1:$PORT" \
      --region us-east-1 --health /health --quiet posix "$STATE/data" >"$STATE/log" 2>&1 </dev/null &
    echo $! >"$STATE/pid"
  fi
  for _ in $(seq 1 100); do
    healthy && break
    kill -0 "$(cat "$STATE/pid")" 2>/dev/null || { echo "s3: server exited:" >&2; cat "$STATE/log" >&2; exit 1; }
    sleep 0.1
  done
  # versitygw's posix backend keeps a bucket as a directory of the data dir.
  mkdir -p "$STATE/data/normreg-test"
  cat <<OUT
export NORMREG_TEST_S3_ENDPOINT=$ENDPOINT
export NORMREG_TEST_S3_BUCKET=normreg-test
export AWS_ACCESS_KEY_ID=$AK
export AWS_SECRET_ACCESS_KEY=$SK
export AWS_REGION=us-east-1
OUT
  ;;
stop)
  if [ -f "$STATE/pid" ]; then
    PID=$(cat "$STATE/pid")
    kill "$PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done # gone within 5 s
  fi
  rm -rf "$STATE"
  ;;
*) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
