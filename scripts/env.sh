# Sourced by the scripts: the virtualenv to use and, when unset, the dataset mirror next to the repository.
VENV="${GNN_DRUG_VENV:-.venv}"
if [ -z "${GNN_DRUG_DATA:-}" ] && [ -d ../shared/data ]; then
  export GNN_DRUG_DATA="$(cd ../shared/data && pwd)"
fi
