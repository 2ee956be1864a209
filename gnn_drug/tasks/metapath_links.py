"""Link prediction from metapath features (``model.kind: metapath``), the Rephetio recipe on any graph:

message graph -> every metapath of 2..L steps between the two kinds -> degree-weighted path counts (DWPC) for
training edges and sampled non-edges, each training edge's features computed with its own fold of training edges
left out (so no pair sees its own edge) -> logistic regression, the L2 strength chosen on the validation edges ->
the same ranking metrics as the GNN. Scores split into per-metapath contributions, which name the mechanisms.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from gnn_drug.kg.build import EdgeType, KnowledgeGraph
from gnn_drug.kg.metapaths import Metapath, MetapathFeatures, enumerate_metapaths
from gnn_drug.kg.ranking import filtered_ranks, known_targets, ranking_metrics, sampled_auc, uniform_sampled_auc
from gnn_drug.kg.splits import EdgeSplit, message_graph
from gnn_drug.models.metapath_scorer import MetapathScorer

Log = Callable[[str], None]


@dataclass
class MetapathLinkModel:
    """A fitted scorer with the features of one graph: scores (source, target) pairs of ``edge_type``."""

    features: MetapathFeatures
    edge_type: EdgeType
    scorer: MetapathScorer
    source_degree: np.ndarray
    target_degree: np.ndarray

    @classmethod
    def on_graph(cls, graph: KnowledgeGraph, edge_type: EdgeType, metapaths: list[Metapath], damping: float,
                 scorer: MetapathScorer) -> MetapathLinkModel:
        """Features and training degrees from ``graph``'s edges (the message graph, or at prediction time the
        whole graph)."""
        edges = graph.edges[edge_type]
        n_s, n_t = len(graph.node_ids[edge_type[0]]), len(graph.node_ids[edge_type[2]])
        return cls(MetapathFeatures(graph, metapaths, damping), edge_type, scorer,
                   np.bincount(edges.source, minlength=n_s).astype(np.float64),
                   np.bincount(edges.target, minlength=n_t).astype(np.float64))

    def _degrees(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        return np.stack([self.source_degree[sources], self.target_degree[targets]], axis=1)

    def score_pairs(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        sources, targets = np.asarray(sources, dtype=np.int64), np.asarray(targets, dtype=np.int64)
        return self.scorer.decision(self.features.pairs(sources, targets), self._degrees(sources, targets))

    def contributions(self, source: int, target: int) -> np.ndarray:
        """Per metapath (then source degree, target degree) contributions to the pair's score."""
        s, t = np.array([source]), np.array([target])
        return self.scorer.contributions(self.features.pairs(s, t), self._degrees(s, t))[0]

    def score_for_target(self, target: int) -> np.ndarray:
        """[n_sources] scores of every source with one target (walks read backwards from the target)."""
        base = self.scorer
        n_s = len(self.source_degree)
        scores = np.full(n_s, base.intercept_, dtype=np.float64)
        for j, metapath in enumerate(self.features.metapaths):
            dwpc = self.features.dwpc_rows(metapath.reversed(), np.array([target]))[0]
            scores += base.coef_[j] * (np.log1p(dwpc / base.scale_[j]) - base.mean_[j]) / base.std_[j]
        m = len(self.features.metapaths)
        scores += base.coef_[m] * (np.log1p(self.source_degree) - base.mean_[m]) / base.std_[m]
        scores += base.coef_[m + 1] * (np.log1p(self.target_degree[target]) - base.mean_[m + 1]) / base.std_[m + 1]
        return scores

    def score_sources(self, sources: np.ndarray, scorers: Sequence[MetapathScorer] | None = None
                      ) -> np.ndarray | list[np.ndarray]:
        """[len(sources), n_targets] scores of every target; with ``scorers`` (sharing this scorer's feature
        scaling, e.g. fitted at several L2 strengths) one such matrix per scorer, from one pass over the
        metapaths."""
        chosen = list(scorers) if scorers is not None else [self.scorer]
        sources = np.asarray(sources, dtype=np.int64)
        n_t = len(self.target_degree)
        out = [np.full((len(sources), n_t), s.intercept_, dtype=np.float64) for s in chosen]
        base = self.scorer
        for j, metapath in enumerate(self.features.metapaths):
            z = (np.log1p(self.features.dwpc_rows(metapath, sources) / base.scale_[j]) - base.mean_[j]) / base.std_[j]
            for matrix, scorer in zip(out, chosen, strict=True):
                matrix += scorer.coef_[j] * z
        m = len(self.features.metapaths)
        z_source = (np.log1p(self.source_degree[sources]) - base.mean_[m]) / base.std_[m]
        z_target = (np.log1p(self.target_degree) - base.mean_[m + 1]) / base.std_[m + 1]
        for matrix, scorer in zip(out, chosen, strict=True):
            matrix += scorer.coef_[m] * z_source[:, None] + scorer.coef_[m + 1] * z_target[None, :]
        return out if scorers is not None else out[0]


def sample_non_edges(positives: np.ndarray, n_sources: int, n_targets: int, known: dict[int, set[int]],
                     per_positive: int, rng: np.random.Generator) -> np.ndarray:
    """``per_positive`` non-edges per positive: half with the positive's source and a random target (ranking
    within a source), half uniform over all pairs (calibration across sources); none is a known edge."""
    out = []
    for s, _ in positives.tolist():
        for k in range(per_positive):
            for _attempt in range(100):
                source = s if k % 2 == 0 else int(rng.integers(0, n_sources))
                target = int(rng.integers(0, n_targets))
                if target not in known.get(source, ()):
                    out.append((source, target))
                    break
    return np.asarray(out, dtype=np.int64).reshape(-1, 2)


def _training_rows(base: MetapathFeatures, seen: KnowledgeGraph, edge_type: EdgeType, folds: int, negatives: int,
                   rng: np.random.Generator, log: Log) -> tuple[np.ndarray, ...]:
    """DWPC, degrees and labels of the training edges (the target edges of the message graph ``seen``) and sampled
    non-edges. The rows of fold k are computed on ``seen`` without fold k's edges — and without any other edge
    joining one of its pairs, the rule the held-out edges follow — so a training pair sees what a test pair
    sees."""
    edges = seen.edges[edge_type]
    train = np.stack([edges.source, edges.target], axis=1)
    n_s, n_t = len(seen.node_ids[edge_type[0]]), len(seen.node_ids[edge_type[2]])
    known = known_targets(train)
    order = rng.permutation(len(train))
    dwpc, degrees, labels = [], [], []
    for k, part in enumerate(np.array_split(order, folds)):
        keep = np.setdiff1d(order, part)
        masked, _ = message_graph(seen, EdgeSplit(edge_type, keep, np.sort(part), np.zeros(0, dtype=np.int64)))
        features = MetapathFeatures(masked, base.metapaths, base.damping)
        source_degree = np.bincount(train[keep, 0], minlength=n_s)
        target_degree = np.bincount(train[keep, 1], minlength=n_t)
        positives = train[part]
        pairs = np.concatenate([positives, sample_non_edges(positives, n_s, n_t, known, negatives, rng)])
        dwpc.append(features.pairs(pairs[:, 0], pairs[:, 1]))
        degrees.append(np.stack([source_degree[pairs[:, 0]], target_degree[pairs[:, 1]]], axis=1))
        labels.append(np.r_[np.ones(len(positives)), np.zeros(len(pairs) - len(positives))])
        log(f"metapath features: fold {k + 1}/{folds}, {len(pairs):,} rows")
    return np.concatenate(dwpc), np.concatenate(degrees).astype(np.float64), np.concatenate(labels)


def evaluate_pairs(model: MetapathLinkModel, pairs: np.ndarray, known: dict[int, set[int]], n_sources: int,
                   n_targets: int, scores: np.ndarray | None = None) -> dict:
    """Filtered ranking metrics (from precomputed ``scores`` rows of the pairs' sources, if given) and the
    sampled AUROC / AUPR of both protocols."""
    if scores is not None:
        sources = np.unique(pairs[:, 0])
        row_of = {s: i for i, s in enumerate(sources.tolist())}

        def score_rows(chunk: np.ndarray) -> np.ndarray:
            return scores[[row_of[s] for s in chunk.tolist()]]
    else:
        score_rows = model.score_sources
    metrics = ranking_metrics(filtered_ranks(score_rows, pairs, known))
    metrics.update(sampled_auc(model.score_pairs, pairs, n_targets, known))
    metrics.update(uniform_sampled_auc(model.score_pairs, pairs, n_sources, n_targets, known))
    return metrics


def fit_metapath_model(graph: KnowledgeGraph, seen: KnowledgeGraph, split: EdgeSplit, config, selection: str,
                       seed: int, log: Log) -> tuple[MetapathLinkModel, dict]:
    """Fit on the training edges of ``split`` (features from the message graph ``seen``); the L2 strength with
    the best validation ``selection`` figure wins. Returns the model and what was chosen and measured."""
    edge_type = split.edge_type
    metapaths = enumerate_metapaths(seen, edge_type[0], edge_type[2], config.max_length)
    if not metapaths:
        raise ValueError(f"no metapath of 2..{config.max_length} steps joins {edge_type[0]} to {edge_type[2]}")
    log(f"{len(metapaths)} metapaths of 2..{config.max_length} steps from {edge_type[0]} to {edge_type[2]}")
    rng = np.random.default_rng(seed)
    train, val = split.pairs(graph, "train"), split.pairs(graph, "val")
    base = MetapathFeatures(seen, metapaths, config.damping)
    dwpc, degrees, labels = _training_rows(base, seen, edge_type, config.folds, config.negatives, rng, log)
    scorers = [MetapathScorer(c).fit(dwpc, degrees, labels, seed) for c in config.regularization]
    model = MetapathLinkModel.on_graph(seen, edge_type, metapaths, config.damping, scorers[0])
    n_s, n_t = len(graph.node_ids[edge_type[0]]), len(graph.node_ids[edge_type[2]])
    known_val = known_targets(train, val)
    rows = model.score_sources(np.unique(val[:, 0]), scorers) if len(val) else [None] * len(scorers)
    by_strength = []
    for scorer, scores in zip(scorers, rows, strict=True):
        model.scorer = scorer
        by_strength.append(evaluate_pairs(model, val, known_val, n_s, n_t, scores))
        log(f"L2 strength C={scorer.regularization:g}: validation {selection} {by_strength[-1][selection]:.4f}")
    best = int(np.nanargmax([m[selection] for m in by_strength]))
    model.scorer = scorers[best]
    info = {"metapaths": len(metapaths), "training_rows": int(len(labels)),
            "regularization": scorers[best].regularization,
            "validation_by_regularization": {str(s.regularization): m[selection]
                                             for s, m in zip(scorers, by_strength, strict=True)}}
    return model, info


def load_metapath_model(graph: KnowledgeGraph, edge_type: EdgeType, stored: dict,
                        tensors: dict[str, np.ndarray]) -> MetapathLinkModel:
    """The model a directory stores (:func:`metapath_card`), with features of ``graph``."""
    scorer = MetapathScorer.from_state({k.split(".", 1)[1]: np.asarray(v) for k, v in tensors.items()
                                        if k.startswith("scorer.")}, stored["regularization"])
    metapaths = [Metapath.from_key(key) for key in stored["metapaths"]]
    return MetapathLinkModel.on_graph(graph, edge_type, metapaths, stored["damping"], scorer)


def explain_with_metapaths(model: MetapathLinkModel, explainer, source_id: str, target_id: str, source: int,
                           target: int, limit: int, metapaths_shown: int = 5) -> list:
    """Concrete paths of the metapaths that raise the pair's score most; a path's attribution is its metapath's
    contribution shared out by the paths' degree-weighted weights."""
    contributions = model.contributions(source, target)[: len(model.features.metapaths)]
    out = []
    for j in np.argsort(-contributions)[:metapaths_shown]:
        if contributions[j] <= 0:
            break
        paths = explainer.explain(source_id, target_id, [model.features.metapaths[j].as_list()], limit=500)
        total = sum(p.weight for p in paths) or 1.0
        for path in paths:
            path.attribution = float(contributions[j]) * path.weight / total
        out += paths
    return sorted(out, key=lambda p: -p.attribution)[:limit]


def metapath_card(model: MetapathLinkModel) -> tuple[dict, dict[str, np.ndarray]]:
    """What a model directory stores: the metapaths (JSON) and the scorer's arrays (tensors)."""
    return ({"metapaths": [m.key() for m in model.features.metapaths], "damping": model.features.damping,
             "regularization": model.scorer.regularization},
            {f"scorer.{k}": v for k, v in model.scorer.state().items()})


def metapath_weights(model: MetapathLinkModel) -> list[dict]:
    """Each metapath's name and coefficient, largest effect first (for reports)."""
    rows = [{"metapath": m.name(), "coefficient": float(w)}
            for m, w in zip(model.features.metapaths, model.scorer.coef_, strict=False)]
    return sorted(rows, key=lambda r: -abs(r["coefficient"]))
