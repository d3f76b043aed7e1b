#!/usr/bin/env bash
# run.sh — measure normreg beside oras, CNCF distribution, aws s3 cp and the AWS SDK
# on this machine, print one table with ratios and write it as JSON.
#
#   bench/run.sh [--sizes 1GiB,4GiB] [--verify-sizes 16MiB,256MiB,1GiB] [--json FILE]
#                [--groups transfer,resolve,serve,verify,dedup,load] [--repeat N] [--warm=false]
#   bench/run.sh compare A.json B.json      ratios of two runs (B against A)
#   bench/run.sh --help                     this text; starts nothing
#
# --repeat N runs the transfer group N times and reports each row's median;
# --warm=false skips touching twice a row's size of memory before it.
# Builds regctl, the registry and the bench, installs the pinned tools
# (scripts/tools.sh), starts a private versitygw (scripts/s3.sh on port
# NORMREG_BENCH_S3_PORT, default 9079; use another port while a bench runs)
# and removes every file it made. Needs the aws CLI and taskset, and about
# 3 × the largest size free in $TMPDIR. Default JSON: bench/latest.json.
# A whole run takes about 10 minutes (48 with --repeat 5); bench/RESULTS.md
# has the last one.
set -euo pipefail
case "${1:-}" in
-h | --help | -help | help)
  sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
  exit 0
  ;;
esac
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(mktemp -d "${TMPDIR:-/tmp}/normreg-bench-bin.XXXXXX")
trap 'rm -rf "$BIN"' EXIT
(cd "$ROOT" && go build -o "$BIN/" ./cmd/regctl ./cmd/registry ./bench/cmd/normreg-bench)
if [ "${1:-}" = compare ]; then
  "$BIN/normreg-bench" "$@"
  exit
fi
command -v aws >/dev/null || { echo "run.sh: the aws CLI is missing (apt-get install awscli)" >&2; exit 1; }
TOOLS=$("$ROOT/scripts/tools.sh")
export NORMREG_S3_PORT=${NORMREG_BENCH_S3_PORT:-9079}
trap '"$ROOT/scripts/s3.sh" stop; rm -rf "$BIN"' EXIT
eval "$("$ROOT/scripts/s3.sh" start)"
args=(-json "$ROOT/bench/latest.json")
for a in "$@"; do args+=("${a/#--/-}"); done
"$BIN/normreg-bench" run -root "$ROOT" -tools "$TOOLS" -regctl "$BIN/regctl" -registry "$BIN/registry" "${args[@]}"
