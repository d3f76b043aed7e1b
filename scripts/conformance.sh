#!/usr/bin/env bash
# conformance.sh URL [namespace] — run the OCI distribution-spec conformance suite
# (pinned in scripts/tools.sh) against a registry with every area switched on:
# all OCI_API_* switches (pull, push, blob/manifest/tag delete, mount without from,
# upload cancel, digest headers, ?tag= on manifest PUT, tag list, referrers) and
# every OCI_DATA_* kind including sha512, except sparse manifests (see below).
#
#   URL        http://host:port (plain HTTP) or https://host:port
#   namespace  repository for the tests (default conformance/repo1); the second
#              repository is conformance/repo2, or <namespace>-xmount otherwise
#
# Sparse manifests (OCI_DATA_SPARSE) stay off: normreg refuses a manifest whose
# blobs or child manifests the repository lacks (MANIFEST_BLOB_UNKNOWN), which is
# exactly what that data set pushes. Any OCI_* variable set by the caller wins.
# Results (junit.xml, report.html, results.yaml) go to $OCI_RESULTS_DIR or a
# fresh directory under the tools cache. The last line is "N passed, N failed";
# the exit status is 0 only when nothing failed.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: $0 URL [namespace]" >&2; exit 2; }
URL=$1 NS=${2:-conformance/repo1}

TOOLS=${NORMREG_TOOLS_BIN:-$("$ROOT/scripts/tools.sh" conformance)} || { echo "0 passed, 1 failed"; exit 2; }
BIN="$TOOLS/conformance"

case "$URL" in
  http://*)  REG=${URL#http://};  TLS=disabled ;;
  https://*) REG=${URL#https://}; TLS=enabled ;;
  *)         REG=$URL;            TLS=disabled ;;
esac
REG=${REG%%/*}
if [ "$NS" = conformance/repo1 ]; then NS2=conformance/repo2; else NS2="$NS-xmount"; fi

RESULTS=${OCI_RESULTS_DIR:-$(dirname "$TOOLS")/conformance-results/$(date -u +%Y%m%dT%H%M%SZ)-$$}
mkdir -p "$RESULTS" || exit 2

# The suite still reads its legacy variables at lower precedence; drop them.
unset OCI_ROOT_URL OCI_NAMESPACE OCI_CROSSMOUNT_NAMESPACE OCI_TEST_PULL OCI_TEST_PUSH \
      OCI_TEST_CONTENT_DISCOVERY OCI_TEST_CONTENT_MANAGEMENT OCI_DEBUG OCI_TAG_NAME \
      OCI_MANIFEST_DIGEST OCI_BLOB_DIGEST
export OCI_REGISTRY=$REG OCI_TLS=${OCI_TLS:-$TLS} OCI_REPO1=${OCI_REPO1:-$NS} OCI_REPO2=${OCI_REPO2:-$NS2}
export OCI_RESULTS_DIR=$RESULTS OCI_LOG=${OCI_LOG:-warn} OCI_VERSION=${OCI_VERSION:-1.1+dev}
for v in PING PULL PUSH REFERRER \
         BLOBS_ATOMIC BLOBS_DELETE BLOBS_DIGEST_HEADER BLOBS_MOUNT_ANONYMOUS BLOBS_UPLOAD_CANCEL \
         MANIFESTS_ATOMIC MANIFESTS_DELETE MANIFESTS_DIGEST_HEADER MANIFESTS_TAG_PARAM \
         TAGS_ATOMIC TAGS_DELETE TAGS_LIST; do
  name=OCI_API_$v; export "$name=${!name:-true}"
done
for v in IMAGE INDEX INDEX_LIST ARTIFACT SUBJECT SUBJECT_MISSING ARTIFACT_LIST SUBJECT_LIST \
         DATA_FIELD NONDISTRIBUTABLE CUSTOM_FIELDS NO_LAYERS EMPTY_BLOB SHA512; do
  name=OCI_DATA_$v; export "$name=${!name:-true}"
done
export OCI_DATA_SPARSE=${OCI_DATA_SPARSE:-false}

echo "# registry $OCI_REGISTRY (tls=$OCI_TLS) repo1=$OCI_REPO1 repo2=$OCI_REPO2, results in $RESULTS" >&2
( cd "$RESULTS" && "$BIN" ) >"$RESULTS/stdout.txt" 2>"$RESULTS/stderr.txt"
rc=$?
sed -n '/^OCI Conformance Result:/,$p' "$RESULTS/stdout.txt" >&2
if grep -q ': FAIL$' "$RESULTS/stdout.txt"; then
  echo "Failing checks (see $RESULTS/report.html):" >&2
  grep -A2 -E '^ +OCI Conformance Test/.*: FAIL$' "$RESULTS/stdout.txt" | head -60 >&2
fi
num() { sed -n "s/^  $1\\.*: *\\([0-9][0-9]*\\)\$/\\1/p" "$RESULTS/stdout.txt" | head -1; }
PASS=$(num Pass) FAIL=$(num FAIL) ERR=$(num Error)
if [ -z "$PASS" ] || [ -z "$FAIL" ]; then
  echo "could not read the suite's results (exit $rc); see $RESULTS/stdout.txt and stderr.txt" >&2
  tail -5 "$RESULTS/stderr.txt" >&2
  echo "0 passed, 1 failed"
  exit 2
fi
FAIL=$((FAIL + ${ERR:-0}))
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
