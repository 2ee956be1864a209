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
kg_app = typer.Typer(no_args_is_help=True, help="Knowledge graphs: build one from a YAML spec, show its counts.")
app.add_typer(kg_app, name="kg")
registry_app = typer.Typer(no_args_is_help=True, help="Registered model versions: list, show, promote, roll back.")
app.add_typer(registry_app, name="registry")

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="GNN_DRUG_DATA", help="Mirror of the public datasets (or $GNN_DRUG_DATA)."),
]


RegistryUri = Annotated[
    str | None,
    typer.Option("--registry", envvar="GNN_DRUG_REGISTRY",
                 help="Registry folder, 'mlflow' or 'mlflow:<tracking-uri>' (or $GNN_DRUG_REGISTRY)."),
]
MlflowOption = Annotated[
    str | None,
    typer.Option("--mlflow", envvar="GNN_DRUG_MLFLOW",
                 help="Log the run to MLflow: 1 for the default SQLite store, or a tracking URI."),
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
    mlflow: MlflowOption = None,
    nproc: Annotated[int, typer.Option("--nproc", min=1, help="Data-parallel processes on this machine.")] = 1,
    device: Annotated[str | None, typer.Option("--device", help="auto | cpu | cuda (default: the config's)")] = None,
) -> None:
    """Train a model from CONFIG into a run directory (config, splits, rejects, metrics, model).

    ``--nproc K`` trains with DistributedDataParallel in K local processes; under ``torchrun`` the process group
    comes from the environment (several machines)."""
    from gnn_drug.errors import ConfigError
    from gnn_drug.tasks.config import load_config
    from gnn_drug.tasks.link_prediction import LINK_TASKS
    from gnn_drug.tasks.molecule_property import train_run, train_run_parallel
    from gnn_drug.tasks.pairs import PAIR_TASKS, train_pair_run
    from gnn_drug.train.distributed import context_from_environment
    from gnn_drug.yaml_files import read_yaml_mapping

    if read_yaml_mapping(config, "config file").get("task") in LINK_TASKS:  # a knowledge-graph task
        if split_file or nproc > 1 or device:
            _fail(f"{config}: --split-file, --nproc and --device apply to molecule and pair tasks")
        _train_link(config, out, data_dir, resume, list(set_ or []))
        return
    overrides = list(set_ or [])
    if split_file is not None:
        overrides.append(f"split.split_file={split_file}")
    if device is not None:
        overrides.append(f"train.device={device}")
    try:
        task_config = load_config(config, overrides)
        torchrun = context_from_environment()
        if task_config.task in PAIR_TASKS:
            if nproc > 1 or torchrun is not None:
                raise ConfigError(f"{config}: data-parallel training (--nproc, torchrun) is available for molecule "
                                  f"tasks; {task_config.task} models train in one process")
            metrics = train_pair_run(task_config, out, data_dir=data_dir, resume=resume)
        elif torchrun is not None:
            metrics = train_run(task_config, out, data_dir=data_dir, resume=resume, distributed=torchrun)
            if not torchrun.is_main:
                return
        elif nproc > 1:
            metrics = train_run_parallel(task_config, out, nproc, data_dir=data_dir, resume=resume)
        else:
            metrics = train_run(task_config, out, data_dir=data_dir, resume=resume)
    except KeyboardInterrupt:
        typer.echo(f"interrupted; continue from the last checkpoint with: gnn-drug train {config} --out {out} "
                   "--resume", err=True)
        raise typer.Exit(130) from None
    for part in ("val", "test"):
        if part in metrics:
            shown = {k: round(v, 4) for k, v in metrics[part].items() if isinstance(v, float)}
            typer.echo(f"{part}: {json.dumps(shown)}")
    typer.echo(f"run written to {out}")
    from gnn_drug.registry.tracking import tracking_uri_from

    tracking_uri = tracking_uri_from(mlflow)
    if tracking_uri is not None:
        import yaml

        from gnn_drug.registry.tracking import log_run

        params = yaml.safe_load((out / "config.resolved.yaml").read_text())
        run_id = log_run(tracking_uri, f"gnn-drug/{config.stem}", out.name, params,
                         {k: v for k, v in metrics.items() if k in ("val", "test")}, out,
                         tags={"gnn_drug.kind": "train", "gnn_drug.run_dir": str(out.resolve())})
        typer.echo(f"logged to MLflow ({tracking_uri}): run {run_id}")


@app.command()
def predict(
    model: Annotated[str, typer.Argument(help="A run directory, its model/ folder, or registry:NAME[@alias|@N].")],
    input: Annotated[Path, typer.Option("--input", help="CSV/TSV/Parquet/.smi of molecules.")],
    out: Annotated[Path, typer.Option("--out", help="Predictions file (.csv, .tsv or .parquet).")],
    smiles_column: Annotated[str, typer.Option("--smiles-column")] = "smiles",
    id_column: Annotated[str | None, typer.Option("--id-column")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1)] = 1,
    registry: RegistryUri = None,
    entity_column: Annotated[str | None, typer.Option(
        "--entity-column", help="Pair models: protein / cell-line id column (ids the model was trained on).")] = None,
    sequence_column: Annotated[str | None, typer.Option(
        "--sequence-column", help="Affinity models: protein sequence column (any protein).")] = None,
    wide: Annotated[bool, typer.Option(
        "--wide", help="Pair models, all-against-all: a compound x entity matrix instead of a ranked list.")] = False,
) -> None:
    """Predict every task for each molecule of INPUT (ensemble mean and spread); bad rows go to a rejects file.
    ``registry:NAME`` uses the registered champion. For affinity/response models, give an entity or sequence
    column to score pairs, or neither to rank every compound against every protein / cell line of the model."""
    from gnn_drug.registry import resolve_model_dir
    from gnn_drug.tasks.molecule_property import predict_file
    from gnn_drug.tasks.pairs import PAIR_TASKS, predict_pairs_file
    from gnn_drug.train.model_files import model_task

    model_dir = resolve_model_dir(model, registry)
    if model_task(model_dir) in PAIR_TASKS:
        predict_pairs_file(model_dir, input, out, smiles_column=smiles_column, entity_column=entity_column,
                           sequence_column=sequence_column, id_column=id_column, n_workers=workers, wide=wide)
        return
    if entity_column or sequence_column:
        _fail(f"{model}: --entity-column/--sequence-column apply to affinity and response models only")
    predict_file(model_dir, input, out, smiles_column=smiles_column, id_column=id_column, n_workers=workers)


@app.command()
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    input: Annotated[Path, typer.Option("--input", help="Labelled file with the training label columns.")],
    smiles_column: Annotated[str, typer.Option("--smiles-column")] = "smiles",
    out: Annotated[Path | None, typer.Option("--out", help="Also write the metrics as JSON.")] = None,
    value_column: Annotated[str | None, typer.Option(
        "--value-column", help="Pair models: the measured value column.")] = None,
    entity_column: Annotated[str | None, typer.Option("--entity-column", help="Pair models: entity id column.")] = None,
    sequence_column: Annotated[str | None, typer.Option(
        "--sequence-column", help="Affinity models: protein sequence column.")] = None,
    transform: Annotated[str, typer.Option(
        "--transform", help="Pair models: unit transform of the values, e.g. pkd_from_nm.")] = "none",
) -> None:
    """Metrics of a trained run on a new labelled file (for pair models: pairs and a value column)."""
    from gnn_drug.data.atomic import atomic_write_text
    from gnn_drug.tasks.molecule_property import evaluate_file
    from gnn_drug.tasks.pairs import PAIR_TASKS, evaluate_pairs_file
    from gnn_drug.train.model_files import model_task

    if model_task(run_dir) in PAIR_TASKS:
        if value_column is None or (entity_column is None and sequence_column is None):
            _fail(f"{run_dir} is a pair model: give --value-column and --entity-column or --sequence-column")
        predictions = out.with_suffix(".predictions.csv") if out is not None else None
        metrics = evaluate_pairs_file(run_dir, input, value_column, predictions, smiles_column=smiles_column,
                                      entity_column=entity_column, sequence_column=sequence_column,
                                      transform=transform)
    else:
        metrics = evaluate_file(run_dir, input, smiles_column=smiles_column)
    text = json.dumps(metrics, indent=2)
    if out is not None:
        atomic_write_text(out, text)
    typer.echo(text)


@app.command()
def screen(
    library: Annotated[Path, typer.Option("--library", help="CSV/TSV/Parquet/.smi/SDF, gzipped or not.")],
    model: Annotated[list[str], typer.Option("--model", help="NAME=RUN_DIR or NAME=registry:MODEL[@alias].")],
    rank: Annotated[Path, typer.Option("--rank", help="Ranking (YAML): objectives, filters, top N.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (rerun to resume).")],
    smiles_column: Annotated[str, typer.Option("--smiles-column")] = "smiles",
    id_column: Annotated[str | None, typer.Option("--id-column")] = None,
    chunk_size: Annotated[int, typer.Option("--chunk-size", min=100)] = 10_000,
    workers: Annotated[int, typer.Option("--workers", min=1)] = 2,
    registry: RegistryUri = None,
    precision: Annotated[str, typer.Option("--precision", help="fp32 | bf16 (faster matrix products on CPUs with "
                                                                "AMX / AVX-512 BF16)")] = "fp32",
    compile_models: Annotated[str, typer.Option("--compile", help="auto | on | off: run the models through "
                                                "torch.compile (auto: for libraries of 50,000+ molecules)")] = "auto",
) -> None:
    """Score every molecule of a library with one or more models, rank them, and write scores.parquet, top.csv,
    rejects.csv and report.html."""
    from gnn_drug.train.compiled import COMPILE_MODES
    from gnn_drug.train.trainer import PRECISIONS

    if precision not in PRECISIONS:
        _fail(f"--precision {precision!r}: choose {' or '.join(PRECISIONS)}")
    if compile_models not in COMPILE_MODES:
        _fail(f"--compile {compile_models!r}: choose {', '.join(COMPILE_MODES)}")
    from gnn_drug.registry import resolve_model_dir
    from gnn_drug.screen.ranking import load_ranking
    from gnn_drug.screen.runner import screen as run_screen

    models = {}
    for spec in model:
        if "=" not in spec:
            _fail(f"--model {spec!r}: expected NAME=RUN_DIR or NAME=registry:MODEL")
        name, where = spec.split("=", 1)
        models[name] = resolve_model_dir(where, registry)
    result = run_screen(library, models, load_ranking(rank), out, smiles_column=smiles_column,
                        id_column=id_column, chunk_size=chunk_size, n_workers=workers,
                        log=lambda m: typer.echo(m, err=True), precision=precision, compile=compile_models)
    for name, path in result.outputs.items():
        typer.echo(f"{name}: {path}")


@app.command()
def tune(
    config: Annotated[Path, typer.Argument(help="Task config (YAML) with a search: block.")],
    out: Annotated[Path, typer.Option("--out", help="Tuning folder (study.db, trials/, best.yaml, plots).")],
    trials: Annotated[int, typer.Option("--trials", min=1, help="Finished trials the study should reach.")],
    study: Annotated[str, typer.Option("--study", help="Study name (workers with the same name cooperate).")],
    storage: Annotated[str | None, typer.Option("--storage", help="SQLAlchemy URL; default sqlite:///OUT/study.db")]
    = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Stop starting trials after S seconds.")] = None,
    pruner: Annotated[str, typer.Option("--pruner", help="median | hyperband | none")] = "median",
    seed: Annotated[int, typer.Option("--seed", help="Sampler seed (give each concurrent worker its own).")] = 0,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override, e.g. --set train.epochs=20")] = None,
    heartbeat: Annotated[int, typer.Option("--heartbeat", min=1, help="Seconds between worker heartbeats.")] = 60,
    data_dir: DataDir = None,
    mlflow: MlflowOption = None,
) -> None:
    """Search hyperparameters with Optuna; rerun to resume, start several to share one study."""
    from gnn_drug.tune.study import run_study

    result = run_study(config, out, trials, study, storage=storage, timeout_s=timeout, pruner=pruner, seed=seed,
                       overrides=list(set_ or []), data_dir=data_dir, heartbeat_s=heartbeat,
                       log=lambda m: typer.echo(m, err=True))
    shown = "none yet" if result.best_value is None else f"{result.best_value:.4f} with {result.best_params}"
    typer.echo(f"study {result.study_name}: {result.finished_trials} finished trial(s); best validation {shown}")
    for name, path in result.outputs.items():
        typer.echo(f"{name}: {path}")
    from gnn_drug.registry.tracking import tracking_uri_from

    tracking_uri = tracking_uri_from(mlflow)
    if tracking_uri is not None and result.best_value is not None:
        from gnn_drug.registry.tracking import log_run

        run_id = log_run(tracking_uri, f"gnn-drug/tune-{study}", study, {"best": result.best_params},
                         {"best_val": result.best_value, "finished_trials": result.finished_trials}, out,
                         tags={"gnn_drug.kind": "tune", "gnn_drug.storage": result.storage})
        typer.echo(f"logged to MLflow ({tracking_uri}): run {run_id}")


@app.command()
def retrain(
    job: Annotated[Path, typer.Argument(help="Retrain job (YAML).")],
    log_json: Annotated[bool, typer.Option("--log-json", help="Log as JSON lines on stderr.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Validate new data, train a challenger, promote it only if it beats the champion; write an audit record.

    Exit codes: 0 promoted or nothing to do, 1 failure, 2 invalid job/config, 3 not promoted, 4 invalid data,
    5 locked (another run of the job is in progress)."""
    import datetime

    from gnn_drug.errors import ConfigError
    from gnn_drug.retrain.job import load_job
    from gnn_drug.retrain.lock import JobLockedError
    from gnn_drug.retrain.runner import EXIT_CONFIG, EXIT_FAILURE, EXIT_LOCKED, run_job

    def log(message: str, level: str = "info") -> None:
        if log_json:
            stamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
            line = json.dumps({"time": stamp, "level": level, "job": str(job), "message": message})
        else:
            line = message
        typer.echo(line, err=True)

    try:
        outcome = run_job(load_job(job), log, data_dir=data_dir)
    except JobLockedError as exc:
        log(str(exc), "error")
        raise typer.Exit(EXIT_LOCKED) from None
    except GnnDrugError as exc:
        log(f"error: {exc}", "error")
        raise typer.Exit(EXIT_CONFIG if isinstance(exc, ConfigError) else EXIT_FAILURE) from None
    typer.echo(outcome.record.get("decision"))
    raise typer.Exit(outcome.exit_code)


@registry_app.command("list")
def registry_list(name: Annotated[str | None, typer.Argument(help="A model: list its versions.")] = None,
                  registry: RegistryUri = None) -> None:
    """Registered models (with their champion), or the versions of one model."""
    from gnn_drug.registry import open_registry

    reg = open_registry(registry)
    if name is None:
        if not reg.models():
            typer.echo(f"no models in registry {reg.uri}")
        for model in reg.models():
            aliases = reg.aliases(model)
            shown = ", ".join(f"{a}=v{v}" for a, v in sorted(aliases.items())) or "no aliases"
            typer.echo(f"{model:<30} {len(reg.versions(model))} version(s)  {shown}")
        return
    aliases = reg.aliases(name)
    if name not in reg.models():
        _fail(f"registry {reg.uri}: no model named {name!r}")
    for version in reg.versions(name):
        tags = ",".join(a for a, v in aliases.items() if v == version.version)
        metric = version.metrics.get("holdout") or version.metrics.get("test") or version.metrics.get("val") or {}
        shown = " ".join(f"{k}={v:.4f}" for k, v in metric.items() if isinstance(v, float))
        typer.echo(f"v{version.version:<4} {version.created_at}  {tags:<20} {shown}")


@registry_app.command("show")
def registry_show(name: Annotated[str, typer.Argument()],
                  version: Annotated[str | None, typer.Argument(help="Number or alias (default: champion).")] = None,
                  registry: RegistryUri = None) -> None:
    """One version: aliases, metrics, data fingerprint, model card."""
    from gnn_drug.registry import open_registry

    reg = open_registry(registry)
    found = reg.get(name, version)
    info = found.to_dict()
    card = json.loads((found.path / "model.json").read_text())
    info["card"] = {k: card.get(k) for k in ("task", "targets", "units", "featurizer_version", "training_data",
                                             "split", "metrics", "package_versions", "created_at",
                                             "schema_version")}
    info["meta"] = {k: v for k, v in info["meta"].items() if k != "data_profile"}
    typer.echo(json.dumps(info, indent=2))


@registry_app.command("promote")
def registry_promote(name: Annotated[str, typer.Argument()],
                     version: Annotated[int | None, typer.Argument(help="Default: the challenger.")] = None,
                     registry: RegistryUri = None) -> None:
    """Make VERSION (default: the challenger) the champion."""
    from gnn_drug.registry import open_registry

    number = open_registry(registry).promote(name, version, reason="promoted by hand")
    typer.echo(f"{name}: champion is now version {number}")


@registry_app.command("rollback")
def registry_rollback(name: Annotated[str, typer.Argument()],
                      version: Annotated[int | None, typer.Argument(help="Default: the previous champion.")] = None,
                      registry: RegistryUri = None) -> None:
    """Make the previous champion (or VERSION) the champion again."""
    from gnn_drug.registry import open_registry

    number = open_registry(registry).rollback(name, version, reason="rolled back by hand")
    typer.echo(f"{name}: champion is now version {number}")


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
    if source.kind == "pairs":
        from gnn_drug.data.pairs import load_deepdta
        from gnn_drug.data.registry import resolve_dataset_files

        files = resolve_dataset_files(source.name, data_dir, download=False)
        for spec in source.files:
            typer.echo(f"file:        {files[spec.key]}  ({spec.key}, sha256 {spec.sha256[:12]}…, {spec.url})")
        table = load_deepdta(files, source.name, source.extra.get("value_name", "value"),
                             source.extra.get("transform", "none"))
        typer.echo(f"pairs:       {len(table)} measured ({table.value_name}: {table.values.min():.2f} … "
                   f"{table.values.max():.2f})\ncompounds:   {table.num_compounds}\nproteins:    {table.num_entities}")
        if table.folds:
            typer.echo("folds:       " + ", ".join(str(len(f)) for f in table.folds["train"])
                       + f" (train), {len(table.folds['test'][0])} (test)")
        return
    path = resolve_dataset(source.name, data_dir, download=False)
    table = load_molecule_table(path, source.smiles_column, require_targets=False)
    typer.echo(f"file:        {path}\nrows:        {len(table)}\ncolumns:     {len(table.targets) + 1}")
    for target, kind in zip(table.targets, table.task_types, strict=True):
        j = table.targets.index(target)
        measured = int((~(table.labels[:, j] != table.labels[:, j])).sum())
        typer.echo(f"  {target:<40} {kind:<15} {measured} measured")


@kg_app.command("build")
def kg_build(
    spec: Annotated[Path, typer.Argument(help="Knowledge-graph spec (YAML), e.g. experiments/kg/hetionet.yaml.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write (manifest.json, nodes/, edges.safetensors).")],
    data_dir: DataDir = None,
) -> None:
    """Build a heterogeneous graph from node and edge tables; report every id, duplicate and self-loop dropped."""
    from gnn_drug.kg.build import build_kg, save_kg
    from gnn_drug.kg.spec import load_kg_spec

    graph = build_kg(load_kg_spec(spec), spec, data_dir)
    save_kg(graph, out)
    for item in graph.node_report:
        if "parsed" in item:  # a structure / sequence table
            failed = (f", {item['failed']} failed (e.g. row {item['failed_examples'][0]['row']}: "
                      f"{item['failed_examples'][0]['reason']})" if item["failed"] else "")
            typer.echo(f"{item['file']}: {item['parsed']:,} {item['kind']} structures{failed}; "
                       f"{item['nodes_without']:,} {item['kind']} nodes have none")
        elif item["repeated_in_table"] or item["joined_to_earlier_tables"]:
            unjoined = (f"; not joined: {item['new']} (e.g. {', '.join(item['not_joined_examples'][:5])})"
                        if item["joined_to_earlier_tables"] and item["new"] else "")
            typer.echo(f"{item['file']}: {item['rows']:,} ids, {item['repeated_in_table']:,} repeated in the file, "
                       f"{item['joined_to_earlier_tables']:,} joined to nodes of earlier tables{unjoined}")
    for item in graph.report:
        if "similarity" in item:
            typer.echo(f"similarity: {item['edges']:,} {item['edge_type']} edges ({item['method']}, top "
                       f"{item['top_k']} of {item['nodes_with_structure']:,} {item['similarity']} nodes with "
                       "structures)")
            continue
        labels = {"dangling_source": "dangling source ids", "dangling_target": "dangling target ids",
                  "self_loops": "self-loops", "duplicates_in_type": "duplicates (or mirrored copies)"}
        dropped = [f"{item[k]:,} {label}" for k, label in labels.items() if item.get(k)]
        if dropped:
            examples = f" (e.g. {', '.join(item['dangling_examples'][:3])})" if item["dangling_examples"] else ""
            typer.echo(f"{item['file']}: dropped " + ", ".join(dropped) + examples)
        for side in ("source", "target") if item.get("join") else ():
            c = item["join"][side]
            examples = ", ".join(c["not_reached_examples"][:5])
            missing = f"; not reached, e.g. {examples}" if c["reached"] < c["of"] else ""
            typer.echo(f"{item['file']} joins {c['reached']:,} of {c['of']:,} {c['kind']} nodes{missing}")
    typer.echo(f"{graph.name}: {sum(graph.node_counts().values()):,} nodes, {sum(graph.edge_counts().values()):,} "
               f"edges in {len(graph.edges)} edge types -> {out}")


@kg_app.command("stats")
def kg_stats(graph_dir: Annotated[Path, typer.Argument(help="A folder written by gnn-drug kg build.")]) -> None:
    """Nodes per kind and edges per type."""
    from gnn_drug.kg.build import load_kg

    graph = load_kg(graph_dir)
    typer.echo(f"{graph.name}")
    typer.echo("nodes:")
    for kind, count in graph.node_counts().items():
        typer.echo(f"  {kind:<28} {count:>10,}")
    typer.echo("edges:")
    for edge_type, edges in graph.edges.items():
        label = " - ".join(edge_type) + (" (directed)" if edges.directed else "")
        typer.echo(f"  {edges.abbreviation or '':<6} {label:<58} {len(edges):>10,}")
    typer.echo(f"total: {sum(graph.node_counts().values()):,} nodes, {sum(graph.edge_counts().values()):,} edges")


@kg_app.command("train")
def kg_train(
    config: Annotated[Path, typer.Argument(help="Link-prediction config (YAML): experiments/kg/hetionet_ctd.yaml")],
    out: Annotated[Path, typer.Option("--out", help="Run directory to create.")],
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run in --out.")] = False,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override, e.g. --set split.fold=3")] = None,
    data_dir: DataDir = None,
) -> None:
    """Train a link predictor (target prediction, repurposing) on a knowledge graph; compare with the degree prior."""
    _train_link(config, out, data_dir, resume, list(set_ or []))


def _train_link(config: Path, out: Path, data_dir: Path | None, resume: bool, overrides: list[str] | None = None
                ) -> None:
    from gnn_drug.tasks.link_prediction import load_link_config, train_link_run

    try:
        metrics = train_link_run(load_link_config(config, overrides=overrides), out, config_path=config,
                                 data_dir=data_dir, resume=resume)
    except KeyboardInterrupt:
        typer.echo(f"interrupted; continue from the last checkpoint with: gnn-drug train {config} --out {out} "
                   "--resume", err=True)
        raise typer.Exit(130) from None
    for part in ("val", "test", "degree_prior_test"):
        shown = {k: round(v, 4) for k, v in metrics[part].items() if isinstance(v, float)}
        typer.echo(f"{part}: {json.dumps(shown)}")
    typer.echo(f"run written to {out}")


def _print_ranking(rows: list[dict], out: Path | None) -> None:
    from gnn_drug.data.atomic import atomic_write_text

    for row in rows:
        typer.echo(f"{row['rank']:>3}. {row['name']} ({row['id']})  score {row['score']:.3f}"
                   + ("  [already in the graph]" if row["known"] else ""))
        for path in row.get("paths", []):
            typer.echo(f"       {path}")
    if out is not None:
        atomic_write_text(out, json.dumps(rows, indent=2))


@kg_app.command("rank")
def kg_rank(
    run_dir: Annotated[Path, typer.Argument(help="A run directory from gnn-drug kg train.")],
    node: Annotated[str | None, typer.Option(
        "--node", help="A node id, e.g. 'Disease::DOID:9352' or 'Compound::DB00514'.")] = None,
    smiles: Annotated[str | None, typer.Option(
        "--smiles", help="A compound not in the graph (models with compound structure features).")] = None,
    top: Annotated[int, typer.Option("--top", min=1)] = 20,
    explain: Annotated[bool, typer.Option("--explain", help="List the graph paths behind each candidate.")] = False,
    paths: Annotated[int, typer.Option("--paths", min=1, help="With --explain: paths shown per candidate.")] = 3,
    include_known: Annotated[bool, typer.Option("--include-known", help="Also list edges already in the graph.")]
    = False,
    out: Annotated[Path | None, typer.Option("--out", help="Also write the ranking as JSON.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Rank candidates for a node with a trained link model (which drugs for this disease, which targets for this
    compound), each with the graph paths that connect it."""
    from gnn_drug.tasks.link_prediction import LinkPredictor

    if (node is None) == (smiles is None):
        _fail("give --node or --smiles")
    predictor = LinkPredictor.load(run_dir, data_dir)
    rows = (predictor.rank(node, top, include_known, paths if explain else 0) if node
            else predictor.rank_new_compound(smiles, top))
    _print_ranking(rows, out)


@app.command()
def repurpose(
    run_dir: Annotated[Path, typer.Argument(help="A Compound–treats–Disease run (gnn-drug train/kg train).")],
    disease: Annotated[str, typer.Option("--disease", help="Disease id (DOID:…) or name.")],
    top: Annotated[int, typer.Option("--top", min=1)] = 25,
    explain: Annotated[bool, typer.Option("--explain", help="List the graph paths behind each compound.")] = False,
    paths: Annotated[int, typer.Option("--paths", min=1, help="With --explain: paths shown per compound.")] = 3,
    include_known: Annotated[bool, typer.Option("--include-known")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Also write the ranking as JSON.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Which compounds could treat this disease, and through which genes, pathways, similar drugs."""
    from gnn_drug.tasks.link_prediction import LinkPredictor

    predictor = LinkPredictor.load(run_dir, data_dir)
    node = predictor.find_node(disease, predictor.edge_type[2])
    _print_ranking(predictor.rank(node, top, include_known, paths if explain else 0), out)


@app.command()
def targets(
    run_dir: Annotated[Path, typer.Argument(help="A Compound–binds–Gene run (gnn-drug train/kg train).")],
    compound: Annotated[str | None, typer.Option("--compound", help="Compound id (DB…) or name.")] = None,
    smiles: Annotated[str | None, typer.Option("--smiles", help="A compound not in the graph.")] = None,
    top: Annotated[int, typer.Option("--top", min=1)] = 20,
    explain: Annotated[bool, typer.Option("--explain", help="List the graph paths behind each target.")] = False,
    paths: Annotated[int, typer.Option("--paths", min=1, help="With --explain: paths shown per target.")] = 3,
    include_known: Annotated[bool, typer.Option("--include-known")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Also write the ranking as JSON.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Which genes (targets) this compound is predicted to bind."""
    from gnn_drug.tasks.link_prediction import LinkPredictor

    if (compound is None) == (smiles is None):
        _fail("give --compound or --smiles")
    predictor = LinkPredictor.load(run_dir, data_dir)
    if smiles is not None:
        _print_ranking(predictor.rank_new_compound(smiles, top), out)
        return
    node = predictor.find_node(compound, predictor.edge_type[0])
    _print_ranking(predictor.rank(node, top, include_known, paths if explain else 0), out)


def main() -> None:
    try:
        app()
    except GnnDrugError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
