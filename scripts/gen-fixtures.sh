#!/usr/bin/env bash
# gen-fixtures.sh — regenerate testdata/interop/ with real PyTorch and
# scikit-learn, then check that every file re-reads correctly.
#
# Installs Debian's python3-torch, python3-sklearn and python3-pandas when
# missing (needs root and apt; PyTorch 1.13, scikit-learn 1.2) and runs them
# with /usr/bin/python3, not a pyenv/venv python. Not part of the test command:
# tests read the committed fixtures. The output is deterministic, so after a
# run `git status testdata/interop` shows no change unless the generator did.
set -euo pipefail

PY=/usr/bin/python3
DIR=$(cd "$(dirname "$0")/../testdata/interop" && pwd)

if ! "$PY" -c 'import torch, sklearn, pandas' 2>/dev/null; then
  echo "gen-fixtures: installing python3-torch python3-sklearn python3-pandas" >&2
  apt-get update >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y python3-torch python3-sklearn python3-pandas >&2
fi

cd "$DIR"
PYTHONDONTWRITEBYTECODE=1 "$PY" gen.py
PYTHONDONTWRITEBYTECODE=1 "$PY" check.py
