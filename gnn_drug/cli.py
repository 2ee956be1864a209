"""The ``gnn-drug`` command line: parses arguments, calls the library, turns errors into one clear line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from gnn_drug.errors import GnnDrugError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Graph neural networks for drug discovery.")
data_app = typer.Typer(no_args_is_help=True, help="Public datasets: list them, show one.")
app.add_typer(data_app, name="data")

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="GNN_DRUG_DATA", help="Mirror of the public datasets (or $GNN_DRUG_DATA)."),
]


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@app.command()
def train(
    config: Annotated[Path, typer.Argument(help="Task config (YAML).")],
    out: Annotated[Path, typer.Option("--out", help="Run directory to create.")],
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override, e.g. --set model.depth=4")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run in --out.")] = False,
    split_file: Annotated[Path | None, typer.Option("--split-file", help="Reuse a split (JSON of rows).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Train a model from CONFIG into a run directory (config, splits, rejects, metrics, model)."""
    from gnn_drug.tasks.config import load_config
    from gnn_drug.tasks.molecule_property import train_run

    overrides = list(set_ or [])
    if split_file is not None:
        overrides.append(f"split.split_file={split_file}")
    try:
        metrics = train_run(load_config(config, overrides), out, data_dir=data_dir, resume=resume)
    except KeyboardInterrupt:
        typer.echo(f"interrupted; continue from the last checkpoint with: gnn-drug train {config} --out {out} "
                   "--resume", err=True)
        raise typer.Exit(130) from None
    for part in ("val", "test"):
        if part in metrics:
            shown = {k: round(v, 4) for k, v in metrics[part].items() if isinstance(v, float)}
            typer.echo(f"{part}: {json.dumps(shown)}")
    typer.echo(f"run written to {out}")


@app.command()
def predict(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (or its model/ folder).")],
    input: Annotated[Path, typer.Option("--input", help="CSV/TSV/Parquet/.smi of molecules.")],
    out: Annotated[Path, typer.Option("--out", help="Predictions file (.csv, .tsv or .parquet).")],
    smiles_column: Annotated[str, typer.Option("--smiles-column")] = "smiles",
    id_column: Annotated[str | None, typer.Option("--id-column")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1)] = 1,
) -> None:
    """Predict every task for each molecule of INPUT (ensemble mean and spread); bad rows go to a rejects file."""
    from gnn_drug.tasks.molecule_property import predict_file

    predict_file(run_dir, input, out, smiles_column=smiles_column, id_column=id_column, n_workers=workers)


@app.command()
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    input: Annotated[Path, typer.Option("--input", help="Labelled file with the training label columns.")],
    smiles_column: Annotated[str, typer.Option("--smiles-column")] = "smiles",
    out: Annotated[Path | None, typer.Option("--out", help="Also write the metrics as JSON.")] = None,
) -> None:
    """Metrics of a trained run on a new labelled file."""
    from gnn_drug.data.atomic import atomic_write_text
    from gnn_drug.tasks.molecule_property import evaluate_file

    metrics = evaluate_file(run_dir, input, smiles_column=smiles_column)
    text = json.dumps(metrics, indent=2)
    if out is not None:
        atomic_write_text(out, text)
    typer.echo(text)


@data_app.command("list")
def data_list() -> None:
    """Known public datasets."""
    from gnn_drug.data.registry import DATASETS

    for source in DATASETS.values():
        typer.echo(f"{source.name:<10} {source.description}")


@data_app.command("info")
def data_info(name: Annotated[str, typer.Argument()], data_dir: DataDir = None) -> None:
    """Rows, columns, task types, source URL and licence of one dataset."""
    from gnn_drug.data.registry import get_source, resolve_dataset
    from gnn_drug.data.tables import load_molecule_table

    source = get_source(name)
    typer.echo(f"name:        {source.name}\ndescription: {source.description}\nurl:         {source.url}")
    typer.echo(f"sha256:      {source.sha256}\nlicence:     {source.licence}")
    path = resolve_dataset(source.name, data_dir, download=False)
    table = load_molecule_table(path, source.smiles_column, require_targets=False)
    typer.echo(f"file:        {path}\nrows:        {len(table)}\ncolumns:     {len(table.targets) + 1}")
    for target, kind in zip(table.targets, table.task_types, strict=True):
        j = table.targets.index(target)
        measured = int((~(table.labels[:, j] != table.labels[:, j])).sum())
        typer.echo(f"  {target:<40} {kind:<15} {measured} measured")


def main() -> None:
    try:
        app()
    except GnnDrugError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
