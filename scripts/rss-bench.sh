#!/usr/bin/env bash
# rss-bench.sh [SIZE_BYTES] — peak RSS and throughput of putting and reading
# back a generated blob (default 2 GiB) through Blobs on each driver.
# Runs its own S3 server (port 9071, removed afterwards), so it neither
# disturbs nor fills the test server. Peak RSS must stay under 100 MiB.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIZE=${1:-$((2 << 30))}
export NORMREG_S3_PORT=9071 NORMREG_S3_DIR=${TMPDIR:-/tmp}/normreg-rss-s3
BIN=$(mktemp -d)
trap '"$ROOT/scripts/s3.sh" stop; rm -rf "$BIN"' EXIT
eval "$("$ROOT/scripts/s3.sh" start)"
(cd "$ROOT" && go build -o "$BIN/storage-rss" ./bench/storage-rss)
"$BIN/storage-rss" -driver fs -size "$SIZE"
"$BIN/storage-rss" -driver s3 -size "$SIZE" \
  -url "s3://$NORMREG_TEST_S3_BUCKET/rss?endpoint=$NORMREG_TEST_S3_ENDPOINT&region=$AWS_REGION"
