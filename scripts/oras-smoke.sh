#!/usr/bin/env bash
# oras-smoke.sh URL [repository] — end-to-end check of a registry with the real ORAS
# CLI (pinned in scripts/tools.sh), shaped like a model bundle: custom artifactType,
# custom config media type, three layers (weights.safetensors, scaler.json, bnstats.json).
#
# Steps: push -> manifest fetch + structural checks -> resolve tag -> pull by digest +
# byte compare -> config blob fetch + compare -> tag (2 extra tags) -> repo tags ->
# attach a referrer -> discover it -> fetch the referrer and check its subject.
# Referrers must be served by the Referrers API (--distribution-spec
# v1.1-referrers-api): oras's tag-schema fallback is not accepted.
#
#   URL         http://host:port (uses --plain-http), https://host:port, or host:port
#               (treated as http://). ORAS_INSECURE=1 for https with a self-signed cert.
#   repository  default smoke/model
#   ORAS_USERNAME/ORAS_PASSWORD  optional basic auth
#
# Every run uses fresh random content and a unique tag. Exits non-zero on the first
# failed step; the last line is "PASS: ..." on success.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: $0 URL [repository]" >&2; exit 2; }
URL=$1
REPO=${2:-smoke/model}
ORAS="${NORMREG_TOOLS_BIN:-$("$ROOT/scripts/tools.sh" oras)}/oras"
CACHE=$(mktemp -d "${TMPDIR:-/tmp}/oras-smoke.XXXXXX")

case "$URL" in
  http://*)  HOST=${URL#http://};  TLSFLAG=(--plain-http) ;;
  https://*) HOST=${URL#https://}; TLSFLAG=() ;;
  *)         HOST=$URL;            TLSFLAG=(--plain-http) ;;
esac
HOST=${HOST%%/*}
[ "${ORAS_INSECURE:-0}" = 1 ] && TLSFLAG+=(--insecure)

# never read or write the user's ~/.docker/config.json
AUTHCFG="$CACHE/registry-auth.json"
[ -f "$AUTHCFG" ] || echo '{}' > "$AUTHCFG"
COMMON=("${TLSFLAG[@]}" --registry-config "$AUTHCFG")
if [ -n "${ORAS_USERNAME:-}" ]; then COMMON+=(-u "$ORAS_USERNAME" -p "${ORAS_PASSWORD:-}"); fi
REFSPEC=(--distribution-spec v1.1-referrers-api)

RUN_ID=$(date -u +%Y%m%d%H%M%S)-$$-$RANDOM
WORK="$CACHE/work"
mkdir -p "$WORK/in" "$WORK/out"
trap 'rc=$?; rm -rf "$CACHE"; if [ $rc -ne 0 ]; then echo "FAIL: oras smoke test failed (rc=$rc) at step: ${STEP:-?}" >&2; fi' EXIT
cd "$WORK/in"

STEP=init
ok()   { echo "  ok: $*"; }
die()  { echo "  FAILED: $*" >&2; exit 1; }
step() { STEP=$1; echo "== $1"; }
o()    { "$ORAS" "$@"; }

AT=application/vnd.example.model.v1
CFG_MT=application/vnd.example.model.config.v1+json
W_MT=application/vnd.example.model.weights.v1.safetensors
S_MT=application/vnd.example.model.scaler.v1+json
B_MT=application/vnd.example.model.bnstats.v1+json
REF_AT=application/vnd.example.model.eval.v1
TAG="smoke-$RUN_ID"
R="$HOST/$REPO"

echo "# oras $("$ORAS" version | sed -n 's/^Version: *//p') against $R (${TLSFLAG[*]:-tls})"
head -c 65536 /dev/urandom > weights.safetensors
printf '{"mean":[%d.5,0.25],"scale":[1.0,2.0]}\n' "$RANDOM" > scaler.json
printf '{"running_mean":[%d.0],"running_var":[1.0]}\n' "$RANDOM" > bnstats.json
printf '{"architecture":"mlp","run":"%s"}\n' "$RUN_ID" > config.json

step "push $R:$TAG (artifactType $AT, config + 3 layers)"
DIGEST=$(o push "${COMMON[@]}" "$R:$TAG" --artifact-type "$AT" \
          --config "config.json:$CFG_MT" \
          "weights.safetensors:$W_MT" "scaler.json:$S_MT" "bnstats.json:$B_MT" \
          --format go-template='{{.digest}}')
case "$DIGEST" in sha256:*) ok "pushed $DIGEST" ;; *) die "unexpected push output: $DIGEST" ;; esac

step "manifest fetch $R@$DIGEST"
o manifest fetch "${COMMON[@]}" "$R@$DIGEST" > "$WORK/out/manifest.json"
M=$(tr -d ' \n\t' < "$WORK/out/manifest.json")
for want in '"mediaType":"application/vnd.oci.image.manifest.v1+json"' \
            "\"artifactType\":\"$AT\"" "\"mediaType\":\"$CFG_MT\"" \
            "\"mediaType\":\"$W_MT\"" "\"mediaType\":\"$S_MT\"" "\"mediaType\":\"$B_MT\""; do
  case "$M" in *"$want"*) ;; *) die "manifest lacks $want" ;; esac
done
ok "manifest has artifactType, config and the three layer media types"
GOT=$(sha256sum "$WORK/out/manifest.json" | cut -d' ' -f1)
[ "sha256:$GOT" = "$DIGEST" ] || die "manifest bytes hash to sha256:$GOT, not $DIGEST"
ok "manifest bytes hash to the pushed digest"

step "resolve $R:$TAG"
RES=$(o resolve "${COMMON[@]}" "$R:$TAG")
[ "$RES" = "$DIGEST" ] || die "tag resolves to $RES"
ok "tag -> $RES"

step "pull by digest and compare bytes"
o pull "${COMMON[@]}" -o "$WORK/out/pull" "$R@$DIGEST" >/dev/null
for f in weights.safetensors scaler.json bnstats.json; do
  cmp -s "$f" "$WORK/out/pull/$f" || die "$f differs after pull"
done
ok "weights.safetensors scaler.json bnstats.json identical"
CFG_DIGEST="sha256:$(sha256sum config.json | cut -d' ' -f1)"
o blob fetch "${COMMON[@]}" -o "$WORK/out/config.json" "$R@$CFG_DIGEST"
cmp -s config.json "$WORK/out/config.json" || die "config blob differs"
ok "config blob $CFG_DIGEST identical"

step "tag $R@$DIGEST as $TAG-a $TAG-b"
o tag "${COMMON[@]}" "$R@$DIGEST" "$TAG-a" "$TAG-b" >/dev/null
for t in "$TAG-a" "$TAG-b"; do
  [ "$(o resolve "${COMMON[@]}" "$R:$t")" = "$DIGEST" ] || die "tag $t does not resolve to $DIGEST"
done
ok "both new tags resolve to the digest"

step "repo tags $R"
o repo tags "${COMMON[@]}" "$R" > "$WORK/out/tags.txt"
for t in "$TAG" "$TAG-a" "$TAG-b"; do grep -qx -- "$t" "$WORK/out/tags.txt" || die "tag $t not listed"; done
ok "$(wc -l < "$WORK/out/tags.txt") tags listed, including the 3 from this run"

step "attach referrer ($REF_AT) to $R@$DIGEST ${REFSPEC[*]:-}"
printf '{"accuracy":0.%d}\n' "$RANDOM" > eval.json
REF=$(o attach "${COMMON[@]}" "${REFSPEC[@]}" --artifact-type "$REF_AT" "$R@$DIGEST" \
        "eval.json:application/vnd.example.model.eval.v1+json" --format go-template='{{.digest}}')
case "$REF" in sha256:*) ok "referrer $REF" ;; *) die "unexpected attach output: $REF" ;; esac

step "discover referrers of $R@$DIGEST"
o discover "${COMMON[@]}" "${REFSPEC[@]}" --format json "$R@$DIGEST" > "$WORK/out/discover.json"
grep -q "\"digest\": \"$REF\"" "$WORK/out/discover.json" || die "referrer $REF not discovered"
grep -q "\"artifactType\": \"$REF_AT\"" "$WORK/out/discover.json" || die "referrer artifactType missing"
ok "referrer listed with artifactType $REF_AT"
o manifest fetch "${COMMON[@]}" "$R@$REF" | tr -d ' \n\t' > "$WORK/out/ref.json"
grep -q "\"subject\":{[^}]*\"digest\":\"$DIGEST\"" "$WORK/out/ref.json" || die "referrer manifest has no subject $DIGEST"
ok "referrer manifest subject = $DIGEST"
if o repo tags "${COMMON[@]}" "$R" | grep -qx "sha256-${DIGEST#sha256:}"; then
  die "a referrers fallback tag sha256-${DIGEST#sha256:} exists: the Referrers API was not used"
fi
ok "referrers served by the Referrers API (no fallback tag)"

echo "PASS: oras smoke test against $R ($DIGEST)"
