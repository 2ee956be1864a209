#!/usr/bin/env bash
# Installs gnn-drug (scripts/install.sh) and runs the test suite. Tests that need the public dataset mirror
# run when GNN_DRUG_DATA points at it (default: ../shared/data next to the repository, when present).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
source scripts/env.sh
"$VENV/bin/ruff" check gnn_drug tests experiments
"$VENV/bin/python" -m pytest -q tests
