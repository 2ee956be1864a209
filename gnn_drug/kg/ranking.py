"""Link-prediction evaluation by ranking: for each held-out (source, target) edge, the true target is ranked
against every node of the target kind; other known true targets of that source (in train, validation or test)
are filtered out first (the standard "filtered" setting). Reports MRR, Hits@k and the mean rank.

Also the degree prior every model must beat: a target's score is its number of training edges of the type.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import numpy as np


def known_targets(*pair_sets: np.ndarray) -> dict[int, set[int]]:
    truth: dict[int, set[int]] = defaultdict(set)
    for pairs in pair_sets:
        for s, t in pairs.tolist():
            truth[s].add(t)
    return truth


def filtered_ranks(score_sources: Callable[[np.ndarray], np.ndarray], test_pairs: np.ndarray,
                   known: dict[int, set[int]], batch: int = 256) -> np.ndarray:
    """Rank (1 = best) of each test pair's target among all candidates; ties count half (neither optimistic
    nor pessimistic). ``score_sources(sources) -> [len(sources), n_targets]`` scores every candidate."""
    ranks = np.zeros(len(test_pairs), dtype=np.float64)
    for start in range(0, len(test_pairs), batch):
        chunk = test_pairs[start : start + batch]
        scores = np.asarray(score_sources(chunk[:, 0]), dtype=np.float64)
        for i, (s, t) in enumerate(chunk.tolist()):
            row = scores[i].copy()
            true_score = row[t]
            others = [x for x in known.get(s, ()) if x != t]
            row[others] = -np.inf
            higher = np.count_nonzero(row > true_score)
            ties = np.count_nonzero(row == true_score) - 1
            ranks[start + i] = 1 + higher + ties / 2
    return ranks


def ranking_metrics(ranks: np.ndarray, ks: tuple[int, ...] = (1, 3, 10, 100)) -> dict[str, float]:
    if len(ranks) == 0:
        return {"n": 0, "mrr": float("nan"), "mean_rank": float("nan"), **{f"hits@{k}": float("nan") for k in ks}}
    return {"n": int(len(ranks)), "mrr": float(np.mean(1.0 / ranks)), "mean_rank": float(np.mean(ranks)),
            **{f"hits@{k}": float(np.mean(ranks <= k)) for k in ks}}


def degree_prior(train_pairs: np.ndarray, n_targets: int) -> Callable[[np.ndarray], np.ndarray]:
    """Scores every target by its training degree, whatever the source: the popularity baseline."""
    degree = np.bincount(train_pairs[:, 1], minlength=n_targets).astype(np.float64)
    return lambda sources: np.broadcast_to(degree, (len(sources), n_targets))


def sampled_auc(score_pairs: Callable[[np.ndarray, np.ndarray], np.ndarray], positives: np.ndarray,
                n_targets: int, known: dict[int, set[int]], negatives_per_positive: int = 10,
                seed: int = 0) -> dict[str, float]:
    """AUROC and AUPR of held-out positives against ``negatives_per_positive`` random non-edges each (same source,
    a target of the right kind that is not a known edge): a ranking of targets per source, scored as a
    classification."""
    rng = np.random.default_rng(seed)
    neg_src, neg_dst = [], []
    for s, _ in positives.tolist():
        taken = known.get(s, set())
        drawn = 0
        while drawn < negatives_per_positive and len(taken) < n_targets:
            t = int(rng.integers(0, n_targets))
            if t not in taken:
                neg_src.append(s)
                neg_dst.append(t)
                drawn += 1
    return _auc(score_pairs, positives, neg_src, neg_dst) | {"negatives_per_positive": negatives_per_positive}


def uniform_sampled_auc(score_pairs: Callable[[np.ndarray, np.ndarray], np.ndarray], positives: np.ndarray,
                        n_sources: int, n_targets: int, known: dict[int, set[int]],
                        negatives_per_positive: int = 10, seed: int = 0) -> dict[str, float]:
    """AUROC and AUPR against ``negatives_per_positive`` non-edges per positive drawn uniformly from all (source,
    target) pairs that are no known edge — the protocol of DTINet and NeoDTI (keys ``auroc_uniform``,
    ``aupr_uniform``). Easier than :func:`sampled_auc`: a well-connected source already tells a positive apart."""
    rng = np.random.default_rng(seed)
    wanted = negatives_per_positive * len(positives)
    neg_src: list[int] = []
    neg_dst: list[int] = []
    drawn: set[tuple[int, int]] = set()
    while len(neg_src) < wanted and len(drawn) < n_sources * n_targets:
        s, t = int(rng.integers(0, n_sources)), int(rng.integers(0, n_targets))
        if t in known.get(s, ()) or (s, t) in drawn:
            continue
        drawn.add((s, t))
        neg_src.append(s)
        neg_dst.append(t)
    return {f"{k}_uniform": v for k, v in _auc(score_pairs, positives, neg_src, neg_dst).items()}


def _auc(score_pairs: Callable[[np.ndarray, np.ndarray], np.ndarray], positives: np.ndarray, neg_src: list[int],
         neg_dst: list[int]) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    if len(positives) == 0 or len(neg_src) == 0:
        return {"auroc": float("nan"), "aupr": float("nan")}
    src = np.concatenate([positives[:, 0], np.asarray(neg_src, dtype=np.int64)])
    dst = np.concatenate([positives[:, 1], np.asarray(neg_dst, dtype=np.int64)])
    labels = np.concatenate([np.ones(len(positives)), np.zeros(len(neg_src))])
    scores = np.asarray(score_pairs(src, dst), dtype=np.float64)
    return {"auroc": float(roc_auc_score(labels, scores)), "aupr": float(average_precision_score(labels, scores))}
