#!/usr/bin/env bash
# gen-proto.sh [--check] — regenerate the Go code of every .proto under manifest/.
#
#   scripts/gen-proto.sh           rewrites manifest/**/*.pb.go
#   scripts/gen-proto.sh --check   regenerates into a temp dir and fails if the
#                                  committed Go differs
#
# Reproducible: protoc must be PROTOC_VERSION (Debian's protobuf-compiler,
# `apt-get install -y protobuf-compiler`); protoc-gen-go is built from the Go
# module proxy at the google.golang.org/protobuf version go.mod requires.
# NORMREG_TOOLS_DIR overrides the cache (default ~/.cache/normreg-tools).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PROTOC_VERSION="libprotoc 3.21.12"
DIR=${NORMREG_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/normreg-tools}

command -v protoc >/dev/null || { echo "gen-proto: protoc not found (apt-get install -y protobuf-compiler)" >&2; exit 1; }
[ "$(protoc --version)" = "$PROTOC_VERSION" ] ||
  { echo "gen-proto: need $PROTOC_VERSION, found $(protoc --version)" >&2; exit 1; }

cd "$ROOT"
VER=$(go list -m -f '{{.Version}}' google.golang.org/protobuf)
PLUGIN="$DIR/bin/protoc-gen-go-$VER"
if [ ! -x "$PLUGIN" ]; then
  echo "gen-proto: building protoc-gen-go $VER (one-time)" >&2
  mkdir -p "$DIR/bin"
  tmp=$(mktemp -d "$DIR/bin/.build.XXXXXX")
  GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS=-trimpath go install "google.golang.org/protobuf/cmd/protoc-gen-go@$VER" >&2 ||
    { rm -rf "$tmp"; exit 1; }
  mv -f "$tmp/protoc-gen-go" "$PLUGIN"
  rm -rf "$tmp"
fi

OUT=$ROOT
if [ "${1:-}" = "--check" ]; then
  OUT=$(mktemp -d)
  trap 'rm -rf "$OUT"' EXIT
fi

mapfile -t PROTOS < <(find manifest -name '*.proto' | LC_ALL=C sort)
protoc --plugin=protoc-gen-go="$PLUGIN" --proto_path=. \
  --go_out="$OUT" --go_opt=paths=source_relative "${PROTOS[@]}"

if [ "$OUT" != "$ROOT" ]; then
  status=0
  for p in "${PROTOS[@]}"; do
    g=${p%.proto}.pb.go
    cmp -s "$OUT/$g" "$g" || { echo "gen-proto: $g is stale; run scripts/gen-proto.sh" >&2; status=1; }
  done
  exit $status
fi
