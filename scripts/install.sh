#!/usr/bin/env bash
# Installs gnn-drug into ./.venv (created if missing). torch is pinned first: the CPU wheel 2.13.0 is what
# this project is tested with, and an unpinned torch would pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${GNN_DRUG_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "torch==2.13.0"
"$VENV/bin/python" -m pip install --quiet -e ".[test]"
echo "gnn-drug installed in $VENV"
