#!/usr/bin/env bash
# Installs gnn-drug, trains a Tox21 toxicity model (D-MPNN + RDKit descriptors, random split) and predicts the
# molecules in data/examples/candidates.csv. Needs the Tox21 file: GNN_DRUG_DATA (or ../shared/data) pointing
# at the dataset mirror, or internet access for the checksum-verified download.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
source scripts/env.sh
RUN="${1:-runs/tox21_random}"
if [ -f "$RUN/metrics.json" ]; then
  echo "using the finished run in $RUN"
else
  "$VENV/bin/gnn-drug" train experiments/toxicity/tox21_random.yaml --out "$RUN" --resume
fi
"$VENV/bin/gnn-drug" predict "$RUN" --input data/examples/candidates.csv --id-column name \
  --out "$RUN/candidates_predictions.csv"
"$VENV/bin/python" - "$RUN/candidates_predictions.csv" <<'PY'
import sys
import pandas as pd
frame = pd.read_csv(sys.argv[1])
tasks = [c for c in frame.columns if c not in ("row", "name", "input_smiles", "smiles") and not c.endswith("_std")]
print(frame[["name"] + tasks].round(3).to_string(index=False))
PY
