#!/usr/bin/env bash
# tools.sh [NAME...] — install (once, pinned) the external programs the tests use,
# or only the NAMEs given, and print the directory that holds them. Builds from
# the Go module proxy only.
#
#   versitygw     v1.8.0   a real S3 server (posix backend)
#   oras          v1.3.6   a real OCI client
#   conformance   pinned   the OCI distribution-spec conformance suite
#   registry      v3.1.2   CNCF distribution, for interop tests of regctl
#   staticcheck   v0.8.2   the linter test.sh runs beside go vet (dead code, misuse)
#
# NORMREG_TOOLS_DIR overrides the cache (default $XDG_CACHE_HOME/normreg-tools, else ~/.cache/normreg-tools).
set -euo pipefail

DIR=${NORMREG_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/normreg-tools}
mkdir -p "$DIR/bin"

install_tool() { # name module@version
  local name=$1 mod=$2 ver=${2##*@}
  local bin="$DIR/bin/$name-$ver"
  if [ ! -x "$bin" ]; then
    echo "tools: building $mod (one-time)" >&2
    local tmp
    tmp=$(mktemp -d "$DIR/bin/.build.XXXXXX")
    GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS=-trimpath go install -ldflags "-s -w" "$mod" >&2 ||
      { rm -rf "$tmp"; echo "tools: building $mod failed" >&2; exit 1; }
    mv -f "$tmp/$(basename "${mod%@*}")" "$bin"
    rm -rf "$tmp"
  fi
  ln -sfn "$bin" "$DIR/bin/$name"
}

declare -A MODULES=(
  [versitygw]=github.com/versity/versitygw/cmd/versitygw@v1.8.0
  [oras]=oras.land/oras/cmd/oras@v1.3.6
  [conformance]=github.com/opencontainers/distribution-spec/conformance@v0.0.0-20260831232431-97274622c111
  [distribution]=github.com/distribution/distribution/v3/cmd/registry@v3.1.2
  [staticcheck]=honnef.co/go/tools/cmd/staticcheck@v0.8.2
)
[ $# -gt 0 ] || set -- "${!MODULES[@]}"
for name in "$@"; do
  [ -n "${MODULES[$name]:-}" ] || { echo "tools: unknown tool $name (known: ${!MODULES[*]})" >&2; exit 2; }
  install_tool "$name" "${MODULES[$name]}" &
done
fail=0
for job in $(jobs -p); do wait "$job" || fail=1; done
[ "$fail" = 0 ] || exit 1
echo "$DIR/bin"
