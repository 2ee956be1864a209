"""``gnn-drug retrain JOB.yaml``: validate new data, train a challenger, compare it with the champion on the
same holdout, promote only if the job's rule holds, and leave an audit record either way.

Exit codes (documented in the README): 0 promoted or nothing to do, 1 unexpected failure, 2 invalid job or
config, 3 challenger not promoted, 4 invalid data, 5 another run of the job holds the lock.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from gnn_drug import __version__
from gnn_drug.chem import InvalidMoleculeError, parse_smiles
from gnn_drug.data.atomic import atomic_path, atomic_write_text
from gnn_drug.data.featurize import FeaturizedMolecules, featurize_smiles
from gnn_drug.data.tables import MoleculeTable, load_molecule_table, molecule_table_from_frame
from gnn_drug.errors import ConfigError, DataError
from gnn_drug.registry import CHALLENGER, ModelRegistry, ModelVersion, open_registry
from gnn_drug.retrain.holdout import holdout_mask
from gnn_drug.retrain.job import HIGHER_IS_BETTER, PromotionRule, RetrainJob
from gnn_drug.retrain.lock import JobLock
from gnn_drug.retrain.validation import (
    DataReport,
    data_fingerprint,
    data_profile,
    drift_summary,
    find_data_files,
    read_job_data,
    validate_table,
)
from gnn_drug.tasks.config import TaskConfig, dump_config, load_config
from gnn_drug.tasks.molecule_property import MoleculePropertyPredictor, train_run
from gnn_drug.train.metrics import evaluate_predictions
from gnn_drug.train.model_files import json_default

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2
EXIT_NOT_PROMOTED = 3
EXIT_INVALID_DATA = 4
EXIT_LOCKED = 5

PROMOTED = "promoted"
NOT_PROMOTED = "not_promoted"
NOTHING_TO_DO = "nothing_to_do"
INVALID_DATA = "invalid_data"
FAILED = "failed"
_EXIT = {PROMOTED: EXIT_OK, NOTHING_TO_DO: EXIT_OK, NOT_PROMOTED: EXIT_NOT_PROMOTED, INVALID_DATA: EXIT_INVALID_DATA,
         FAILED: EXIT_FAILURE}

Log = Callable[[str], None]


@dataclass
class RetrainOutcome:
    decision: str
    reason: str
    record: dict = field(default_factory=dict)
    audit_path: Path | None = None

    @property
    def exit_code(self) -> int:
        return _EXIT[self.decision]


# ---- the promotion rule --------------------------------------------------------------------------------------
def decide(rule: PromotionRule, champion: dict | None, challenger: dict, champion_reference: dict | None = None,
           challenger_reference: dict | None = None,
           champion_recorded: float | None = None) -> tuple[bool, str, list[dict]]:
    """Apply the rule; returns (promote, reason, one entry per check). The ``*_reference`` metrics are on holdout
    rows from files the champion was trained with: new data must not make the model worse on old data.
    ``champion_recorded`` is the champion's primary metric when it was registered."""

    def value(metrics: dict, name: str) -> float:
        v = metrics.get(name)
        return float(v) if isinstance(v, int | float) else float("nan")

    primary = value(challenger, rule.metric)
    if not math.isfinite(primary):
        return False, f"challenger {rule.metric} on the holdout is undefined", []
    sign = 1.0 if HIGHER_IS_BETTER[rule.metric] else -1.0
    checks = []
    if rule.min_value is not None:
        checks.append({"metric": rule.metric, "kind": "floor", "champion": float("nan"), "challenger": primary,
                       "required": rule.min_value, "passed": bool(sign * (primary - rule.min_value) >= 0)})
    if champion is None:
        if checks and not checks[0]["passed"]:
            return False, f"no champion yet, but challenger {rule.metric} {primary:.4f} misses the floor " \
                          f"{rule.min_value}", checks
        return True, f"no champion yet; challenger {rule.metric} = {primary:.4f} on the holdout", checks
    before = value(champion, rule.metric)
    gain = sign * (primary - before)
    ok = math.isfinite(before) and gain >= rule.min_improvement
    checks.append({"metric": rule.metric, "kind": "primary", "champion": before, "challenger": primary,
                   "improvement": gain, "required": rule.min_improvement, "passed": bool(ok)})
    for name, eps in rule.secondary.items():
        s = 1.0 if HIGHER_IS_BETTER[name] else -1.0
        old, new = value(champion, name), value(challenger, name)
        drop = s * (old - new)
        passed = math.isfinite(new) and (not math.isfinite(old) or drop <= eps)
        checks.append({"metric": name, "kind": "secondary", "champion": old, "challenger": new, "drop": drop,
                       "allowed_drop": eps, "passed": bool(passed)})
    if rule.champion_max_drop is not None and champion_recorded is not None:
        now = value(champion, rule.metric)
        drop = sign * (champion_recorded - now)
        checks.append({"metric": rule.metric, "kind": "champion_consistency", "champion": now,
                       "challenger": primary, "recorded": champion_recorded, "drop": drop,
                       "allowed_drop": rule.champion_max_drop, "passed": bool(drop <= rule.champion_max_drop)})
    if rule.reference_max_drop is not None and champion_reference and challenger_reference:
        old, new = value(champion_reference, rule.metric), value(challenger_reference, rule.metric)
        drop = sign * (old - new)
        passed = math.isfinite(new) and (not math.isfinite(old) or drop <= rule.reference_max_drop)
        checks.append({"metric": rule.metric, "kind": "reference", "champion": old, "challenger": new, "drop": drop,
                       "allowed_drop": rule.reference_max_drop, "rows": champion_reference.get("molecules"),
                       "passed": bool(passed)})
    failed = [c for c in checks if not c["passed"]]
    if not failed:
        return True, (f"{rule.metric} {before:.4f} -> {primary:.4f} (improvement {gain:+.4f} >= "
                      f"{rule.min_improvement}); all secondary metrics within tolerance"), checks
    parts = []
    for c in failed:
        if c["kind"] == "primary":
            parts.append(f"{c['metric']} {c['champion']:.4f} -> {c['challenger']:.4f} (improvement "
                         f"{c['improvement']:+.4f} < required {c['required']})")
        elif c["kind"] == "floor":
            parts.append(f"{c['metric']} {c['challenger']:.4f} misses the floor {c['required']}")
        elif c["kind"] == "champion_consistency":
            parts.append(f"the champion scores {c['champion']:.4f} {c['metric']} on this holdout but "
                         f"{c['recorded']:.4f} when it was registered (drop {c['drop']:.4f} > {c['allowed_drop']}): "
                         "the new data looks suspect (label errors or an assay change); inspect it before promoting")
        elif c["kind"] == "reference":
            parts.append(f"on the {c['rows']} holdout molecules from the champion's unchanged files, {c['metric']} "
                         f"dropped {c['drop']:.4f} > allowed {c['allowed_drop']}")
        else:
            parts.append(f"{c['metric']} dropped {c['drop']:.4f} > allowed {c['allowed_drop']}")
    return False, "; ".join(parts), checks


# ---- steps ---------------------------------------------------------------------------------------------------
def _canonicalise(smiles: list[str]) -> tuple[list[str | None], list[str | None]]:
    from rdkit import Chem

    canonical: list[str | None] = []
    reasons: list[str | None] = []
    for s in smiles:
        try:
            canonical.append(Chem.MolToSmiles(parse_smiles(s)))
            reasons.append(None)
        except InvalidMoleculeError as exc:
            canonical.append(None)
            reasons.append(exc.reason)
    return canonical, reasons


def _champion(registry: ModelRegistry, name: str) -> ModelVersion | None:
    if name not in registry.models() or "champion" not in registry.aliases(name):
        return None
    return registry.get(name)


class _HoldoutEvaluator:
    """Metrics of a model on a labelled table; the table is featurised once per featuriser version, so champion
    and challenger (usually the same featuriser) share one featurisation of the holdout."""

    def __init__(self) -> None:
        self._featurized: dict[tuple[int, str], FeaturizedMolecules] = {}

    def __call__(self, model_dir: Path, table: MoleculeTable) -> dict:
        predictor = MoleculePropertyPredictor.load(model_dir)
        if predictor.targets != table.targets:
            raise DataError(f"{model_dir}: predicts {predictor.targets}, the holdout has {table.targets}")
        key = (id(table), predictor.featurizer.version)
        if key not in self._featurized:
            self._featurized[key] = featurize_smiles(table.smiles, predictor.featurizer)
        result = predictor.predict_featurized(self._featurized[key])
        metrics = evaluate_predictions(table.labels[result.featurized.rows], result.mean, table.task_types,
                                       table.targets)
        metrics["molecules"] = len(result.featurized)
        return metrics


def _recorded(champion: ModelVersion | None, metric: str) -> float | None:
    """The champion's metric when it was registered (its holdout, else its test set)."""
    if champion is None:
        return None
    for part in ("holdout", "test"):
        value = (champion.metrics.get(part) or {}).get(metric)
        if isinstance(value, int | float):
            return float(value)
    return None


def _summary_metrics(metrics: dict | None) -> dict | None:
    if metrics is None:
        return None
    return {k: v for k, v in metrics.items() if k != "per_task"}


def _challenger_config(config: TaskConfig, train_csv: Path, table: MoleculeTable) -> TaskConfig:
    """The task config pointed at the job's training rows: same model and training, no test part (the job's
    holdout is the test), validation carved from the training rows as the config's split method says."""
    raw = config.model_dump(mode="json")
    train_share, val_share, _ = config.split.sizes
    val = val_share / (train_share + val_share) if train_share + val_share > 0 else 0.1
    raw["data"].update(source=str(train_csv), smiles_column="smiles", targets=table.targets,
                       task_types=dict(zip(table.targets, table.task_types, strict=True)), id_column=None)
    raw["split"].update(sizes=[1.0 - val, val, 0.0], split_file=None)
    return TaskConfig.model_validate(raw)


def _write_table(path: Path, frame: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


class _Run:
    """One execution of a job (under its lock)."""

    def __init__(self, job: RetrainJob, log: Log, data_dir: str | os.PathLike | None) -> None:
        self.job = job
        self.log = log
        self.data_dir = data_dir
        self.work = job.path(job.work_dir)
        self.audit_dir = job.path(job.audit_dir)
        self.started = datetime.now(UTC)
        self.record: dict = {"job": job.name, "started_at": self.started.isoformat(timespec="seconds"),
                             "gnn_drug_version": __version__, "registry": None, "model": job.registry.model}

    def finish(self, decision: str, reason: str) -> RetrainOutcome:
        self.record.update(decision=decision, reason=reason, exit_code=_EXIT[decision],
                           finished_at=datetime.now(UTC).isoformat(timespec="seconds"))
        stamp = self.started.strftime("%Y%m%dT%H%M%S.%fZ")  # two runs in one second keep two records
        audit_path = self.audit_dir / f"{self.job.name}-{stamp}.json"
        atomic_write_text(audit_path, json.dumps(self.record, indent=2, default=json_default))
        atomic_write_text(audit_path.with_suffix(".txt"), human_summary(self.record))
        with open(self.audit_dir / f"{self.job.name}.jsonl", "a") as handle:
            handle.write(json.dumps({k: self.record.get(k) for k in ("job", "started_at", "finished_at",
                                                                     "decision", "reason", "exit_code")}) + "\n")
        self.log(f"{decision}: {reason} (audit: {audit_path})")
        return RetrainOutcome(decision, reason, self.record, audit_path)

    def run(self) -> RetrainOutcome:
        job = self.job
        config = load_config(job.path(job.task_config))
        if config.task not in ("toxicity", "property"):
            raise ConfigError(f"{job.path(job.task_config)}: retrain jobs train molecule property models; task "
                              f"{config.task!r} is trained with gnn-drug train")
        config_hash = hashlib.sha256((dump_config(config) + job.holdout.model_dump_json()).encode()).hexdigest()
        registry = open_registry(job.registry_uri())
        self.record["registry"] = registry.uri
        files = find_data_files(job.path(job.data))
        if not files:
            return self.finish(INVALID_DATA, f"no data file matches {job.path(job.data)}")
        fingerprint = data_fingerprint(files)
        self.record["data"] = {"fingerprint": fingerprint, "files": [str(f) for f in files]}
        champion = _champion(registry, job.registry.model)
        self.record["champion"] = {"version": champion.version, "data_fingerprint": champion.data_fingerprint} \
            if champion else None
        self.log(f"{len(files)} data file(s), fingerprint {fingerprint[:12]}; champion: "
                 + (f"version {champion.version}" if champion else "none"))

        if champion is not None and champion.data_fingerprint == fingerprint:
            return self.finish(NOTHING_TO_DO, f"the champion (version {champion.version}) was trained on exactly "
                                              "this data")
        state_path = self.work / "state.json"
        state = json.loads(state_path.read_text()) if state_path.is_file() else {}
        if (state.get("fingerprint") == fingerprint and state.get("config") == config_hash
                and state.get("decision") == NOT_PROMOTED
                and state.get("champion_version") == (champion.version if champion else None)):
            return self.finish(NOTHING_TO_DO, f"this data was already evaluated at {state.get('at')} against the "
                                              f"same champion: not promoted ({state.get('reason')})")

        # 1. validate
        report = DataReport()
        smiles_column = config.data.smiles_column or "smiles"
        targets = config.data.targets
        if targets is None and champion is not None:
            targets = json.loads((champion.path / "model.json").read_text())["targets"]
        frame, targets = read_job_data(files, smiles_column, targets, config.data.task_types, report)
        if not report.ok:
            self.record["validation"] = report.to_dict()
            return self.finish(INVALID_DATA, report.problems[0])
        table = molecule_table_from_frame(frame, "job data", "smiles", targets, config.data.task_types)
        canonical, reasons = _canonicalise(table.smiles)
        validate_table(table, frame, job.validation, report, canonical, reasons)
        self.record["validation"] = report.to_dict()
        valid_canonical = [c for c in canonical if c is not None]
        self.record["drift"] = drift_summary(champion.meta.get("data_profile") if champion else None,
                                             valid_canonical, table)
        for warning in report.warnings:
            self.log(f"warning: {warning}")
        if not report.ok:
            return self.finish(INVALID_DATA, "; ".join(report.problems))
        if self.record["drift"].get("major_shifts"):
            self.log(f"warning: major shift against the champion's data in {self.record['drift']['major_shifts']}")

        # 2. holdout
        columns = ["smiles", *table.targets]
        data_only = frame[columns]
        if job.holdout.policy == "file":
            holdout_path = job.path(job.holdout.file)
            holdout = load_molecule_table(holdout_path, smiles_column, table.targets,
                                          dict(zip(table.targets, table.task_types, strict=True)))
            held_canonical = set(c for c in _canonicalise(holdout.smiles)[0] if c is not None)
            in_holdout = np.array([c is not None and c in held_canonical for c in canonical])
            train_frame = data_only[~in_holdout]
            self.log(f"holdout: {holdout_path} ({len(holdout)} rows); {int(in_holdout.sum())} job rows with the "
                     "same molecules are kept out of training")
        else:
            in_holdout = holdout_mask(job.holdout, table.smiles, canonical)
            train_frame = data_only[~in_holdout]
            holdout = MoleculeTable("holdout", [table.smiles[i] for i in np.flatnonzero(in_holdout)], table.targets,
                                    table.labels[in_holdout], table.task_types)
            self.log(f"holdout ({job.holdout.policy}, {job.holdout.fraction:.0%}): {int(in_holdout.sum())} rows")
        reference = None
        champion_files = set(champion.meta.get("files_sha256", [])) if champion else set()
        if job.holdout.policy != "file" and champion_files:
            in_reference = in_holdout & frame["_sha256"].isin(champion_files).to_numpy()
            if in_reference.sum() >= 10:
                reference = MoleculeTable("reference holdout", [table.smiles[i] for i in np.flatnonzero(in_reference)],
                                          table.targets, table.labels[in_reference], table.task_types)
        self.record["holdout"] = {**job.holdout.model_dump(), "rows": len(holdout),
                                  "reference_rows": len(reference) if reference else 0}
        if len(holdout) < 10:
            return self.finish(INVALID_DATA, f"the holdout has only {len(holdout)} rows; need at least 10 to compare")

        # 3. challenger (resumes an interrupted training of the same data and config)
        run_root = self.work / "runs" / f"{fingerprint[:16]}-{config_hash[:8]}"
        train_csv = run_root / "train_data.csv"
        if not train_csv.is_file():
            _write_table(train_csv, train_frame)
        run_dir = run_root / "run"
        challenger_config = _challenger_config(config, train_csv, table)
        if (run_dir / "metrics.json").is_file():
            self.log(f"challenger already trained in {run_dir}")
            val_metrics = json.loads((run_dir / "metrics.json").read_text()).get("val", {})
        else:
            resume = (run_dir / "config.resolved.yaml").is_file()
            self.log(("resuming the interrupted challenger training in " if resume else "training the challenger in ")
                     + str(run_dir))
            val_metrics = train_run(challenger_config, run_dir, data_dir=self.data_dir, resume=resume,
                                    log=self.log).get("val", {})

        # 4. compare on the same holdout
        evaluate = _HoldoutEvaluator()
        challenger_metrics = evaluate(run_dir / "model", holdout)
        champion_metrics = champion_reference = challenger_reference = None
        if champion is not None:
            try:
                champion_metrics = evaluate(champion.path, holdout)
                if reference is not None:
                    champion_reference = evaluate(champion.path, reference)
                    challenger_reference = evaluate(run_dir / "model", reference)
            except DataError as exc:
                self.record["challenger"] = {"run_dir": str(run_dir), "holdout": _summary_metrics(challenger_metrics)}
                return self.finish(NOT_PROMOTED, f"the champion cannot be evaluated on this holdout ({exc}); "
                                                 "promote by hand with `gnn-drug registry promote` if intended")
        promote, reason, checks = decide(job.promotion, _summary_metrics(champion_metrics),
                                         _summary_metrics(challenger_metrics), _summary_metrics(champion_reference),
                                         _summary_metrics(challenger_reference),
                                         _recorded(champion, job.promotion.metric))
        self.record["rule"] = job.promotion.model_dump()
        self.record["checks"] = checks
        if champion is not None:
            self.record["champion"]["holdout"] = _summary_metrics(champion_metrics)

        # 5. register (atomic) and move the alias (atomic)
        run_id = f"{job.name}:{fingerprint}:{config_hash}"
        existing = [v for v in registry.versions(job.registry.model) if v.meta.get("run_id") == run_id]
        if existing:
            version = existing[-1]
        else:
            train_canonical = [c for c, h in zip(canonical, in_holdout, strict=True) if c is not None and not h]
            meta = {"run_id": run_id, "job": job.name, "files_sha256": sorted(set(frame["_sha256"])),
                    "data_profile": data_profile(train_canonical, table)}
            version = registry.register(job.registry.model, run_dir / "model", data_fingerprint=fingerprint,
                                        metrics={"holdout": _summary_metrics(challenger_metrics),
                                                 "val": _summary_metrics(val_metrics)},
                                        description=f"retrain job {job.name}", meta=meta)
        self.record["challenger"] = {"version": version.version, "run_dir": str(run_dir),
                                     "holdout": _summary_metrics(challenger_metrics)}
        if promote:
            registry.promote(job.registry.model, version.version, reason=reason)
        elif registry.aliases(job.registry.model).get("champion") != version.version:
            registry.set_alias(job.registry.model, CHALLENGER, version.version)
        decision = PROMOTED if promote else NOT_PROMOTED
        atomic_write_text(state_path, json.dumps({
            "fingerprint": fingerprint, "config": config_hash, "decision": decision, "reason": reason,
            "champion_version": champion.version if champion else None, "challenger_version": version.version,
            "at": datetime.now(UTC).isoformat(timespec="seconds")}, indent=2))
        self._track(challenger_config, champion_metrics, challenger_metrics, decision, run_dir)
        return self.finish(decision, reason)

    def _track(self, config: TaskConfig, champion: dict | None, challenger: dict, decision: str,
               run_dir: Path) -> None:
        from gnn_drug.registry.tracking import log_run, tracking_uri_from

        value = self.job.mlflow  # None: follow $GNN_DRUG_MLFLOW; true/false; or a tracking URI
        uri = tracking_uri_from(None if value is None else "1" if value is True else str(value) if value else "0")
        if uri is None:
            return
        run_id = log_run(uri, f"gnn-drug/{self.job.name}", f"retrain-{self.started:%Y%m%dT%H%M%SZ}",
                         {"task": config.model_dump(mode="json"), "promotion": self.job.promotion.model_dump()},
                         {"challenger": _summary_metrics(challenger) or {}, "champion": _summary_metrics(champion)
                          or {}}, run_dir, tags={"gnn_drug.kind": "retrain", "gnn_drug.decision": decision})
        self.record["mlflow_run_id"] = run_id


def human_summary(record: dict) -> str:
    """A few lines for e-mail or a chat channel."""
    lines = [f"gnn-drug retrain {record['job']} — {record['decision'].replace('_', ' ').upper()}",
             f"when:      {record['started_at']} -> {record.get('finished_at')}",
             f"reason:    {record['reason']}",
             f"model:     {record.get('model')} in {record.get('registry')}"]
    data = record.get("data") or {}
    if data:
        lines.append(f"data:      {len(data.get('files', []))} file(s), fingerprint {data.get('fingerprint', '')[:12]}")
    validation = record.get("validation") or {}
    if validation:
        lines.append(f"rows:      {validation.get('rows')} ({validation.get('invalid_molecules')} invalid, "
                     f"{validation.get('duplicate_molecules')} duplicated)")
    for check in record.get("checks", []):
        mark = "ok " if check["passed"] else "NO "
        lines.append(f"  {mark} {check['metric']:<8} champion {check['champion']:.4f}  challenger "
                     f"{check['challenger']:.4f}")
    champion = record.get("champion") or {}
    challenger = record.get("challenger") or {}
    if champion:
        lines.append(f"champion:   version {champion.get('version')}")
    if challenger:
        lines.append(f"challenger: version {challenger.get('version')} ({challenger.get('run_dir')})")
    drift = record.get("drift") or {}
    if drift.get("major_shifts"):
        lines.append(f"drift:     major shift in {', '.join(drift['major_shifts'])}")
    return "\n".join(lines) + "\n"


def run_job(job: RetrainJob, log: Log, data_dir: str | os.PathLike | None = None) -> RetrainOutcome:
    """Run a job under its lock (raises JobLockedError when another run holds it)."""
    started = time.perf_counter()
    with JobLock(job.path(job.work_dir) / "job.lock", job.name):
        run = _Run(job, log, data_dir)
        try:
            outcome = run.run()
        except ConfigError:
            raise
        except Exception as exc:  # unattended job: record the failure (with its traceback) and exit 1
            import traceback

            run.record["traceback"] = traceback.format_exc()
            outcome = run.finish(FAILED, f"{type(exc).__name__}: {exc}; the champion is unchanged")
    log(f"finished in {time.perf_counter() - started:.1f} s")
    return outcome


__all__ = ["EXIT_CONFIG", "EXIT_FAILURE", "EXIT_INVALID_DATA", "EXIT_LOCKED", "EXIT_NOT_PROMOTED", "EXIT_OK",
           "ConfigError", "RetrainOutcome", "decide", "human_summary", "run_job"]
