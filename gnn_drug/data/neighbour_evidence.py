"""Neighbour evidence: what the training measurements already say about a (compound, entity) pair.

A pair model reads a compound's structure and an entity's sequence or profile. Collaborative filtering reads
something else: compounds that bind the same proteins alike, and structurally close compounds, tend to share
affinities (SimBoost, Affinity2Vec). This module turns the training pairs into per-pair features that the pair
model's head reads next to the two encodings, for a pair (c, e):

- the mean training value of c (over its other entities) and of e (over its other compounds), and their counts;
- for each similarity and each k: the similarity-weighted mean value that c's k nearest training compounds have
  with e (or e's k nearest training entities with c), and the total weight behind it.

Similarities: structure (Tanimoto of Morgan bits), entity inputs (cosine of standardised k-mer compositions or
genomic profiles) and measured behaviour (cosine of the centred training values of two items). A training pair's
own measurement (all its replicates) is left out of its evidence, so training sees evidence as a new pair does.
New compounds and entities have structure / input neighbours only, so the features are defined for any pair;
the behaviour similarity is computed once from all training pairs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rdkit import Chem, DataStructs
from scipy import sparse

from gnn_drug.chem.similarity import morgan_fingerprint

#: the neighbour kinds, in feature order
NEIGHBOURS = ("compound_structure", "compound_behaviour", "entity_inputs", "entity_behaviour")
_BLOCK = 1024


def compound_fingerprints(smiles: Sequence[str]) -> list[DataStructs.ExplicitBitVect | None]:
    """Morgan bits per SMILES (``None`` where RDKit cannot parse it: no structure neighbours)."""
    mols = (Chem.MolFromSmiles(s) for s in smiles)
    return [None if m is None else morgan_fingerprint(m) for m in mols]


def _top_k(sims: np.ndarray, k: int, positive: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Per row the ``k`` largest similarities (positive ones only, or any finite one), largest first: ([n, k]
    columns, -1 where there are fewer; [n, k] weights, 0 there)."""
    n, m = sims.shape
    k_eff = min(k, m)
    idx = np.full((n, k), -1, dtype=np.int64)
    weight = np.zeros((n, k), dtype=np.float64)
    if n == 0 or k_eff == 0:
        return idx, weight
    part = np.argpartition(-sims, k_eff - 1, axis=1)[:, :k_eff] if k_eff < m else np.tile(np.arange(m), (n, 1))
    w = np.take_along_axis(sims, part, axis=1)
    order = np.argsort(-w, axis=1, kind="stable")
    part, w = np.take_along_axis(part, order, axis=1), np.take_along_axis(w, order, axis=1)
    keep = w > 0 if positive else np.isfinite(w)
    idx[:, :k_eff] = np.where(keep, part, -1)
    weight[:, :k_eff] = np.where(keep, w, 0.0)
    return idx, weight


def _exclude_self(sims: np.ndarray, start: int, self_keys: np.ndarray) -> None:
    rows = np.flatnonzero(self_keys[start : start + len(sims)] >= 0)
    sims[rows, self_keys[start + rows]] = -np.inf


def _tanimoto_neighbours(queries: Sequence, pool: Sequence, k: int, self_keys: np.ndarray) -> tuple[
        np.ndarray, np.ndarray]:
    """Each query's ``k`` most Tanimoto-similar pool compounds (itself excluded where ``self_keys`` >= 0, the
    query's own pool position)."""
    present = [fp for fp in pool if fp is not None]
    where = np.asarray([i for i, fp in enumerate(pool) if fp is not None], dtype=np.int64)
    out_idx, out_w = [], []
    for start in range(0, len(queries), _BLOCK):
        block = queries[start : start + _BLOCK]
        sims = np.zeros((len(block), len(pool)))
        for a, fp in enumerate(block):
            if fp is not None and present:
                sims[a, where] = DataStructs.BulkTanimotoSimilarity(fp, present)
        _exclude_self(sims, start, self_keys)
        idx, w = _top_k(sims, k)
        out_idx.append(idx)
        out_w.append(w)
    return _stack(out_idx, out_w, k)


def _unit_rows(x: np.ndarray | sparse.csr_matrix) -> np.ndarray | sparse.csr_matrix:
    if sparse.issparse(x):
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        return sparse.csr_matrix(sparse.diags(np.where(norms > 0, 1.0 / np.maximum(norms, 1e-12), 0.0)) @ x)
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.where(norms > 0, x / np.maximum(norms, 1e-12), 0.0)


def _cosine_neighbours(queries: np.ndarray | sparse.csr_matrix, pool: np.ndarray | sparse.csr_matrix, k: int,
                       self_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each query row's ``k`` most cosine-similar pool rows (itself excluded where ``self_keys`` >= 0); dense or
    sparse rows, compared a block of queries at a time."""
    q, p = _unit_rows(queries), _unit_rows(pool)
    out_idx, out_w = [], []
    for start in range(0, q.shape[0], _BLOCK):
        sims = q[start : start + _BLOCK] @ p.T
        sims = sims.toarray() if sparse.issparse(sims) else np.asarray(sims)
        _exclude_self(sims, start, self_keys)
        idx, w = _top_k(sims, k)
        out_idx.append(idx)
        out_w.append(w)
    return _stack(out_idx, out_w, k)


def _stack(idx: list[np.ndarray], w: list[np.ndarray], k: int) -> tuple[np.ndarray, np.ndarray]:
    if not idx:
        return np.zeros((0, k), dtype=np.int64), np.zeros((0, k))
    return np.concatenate(idx), np.concatenate(w)


class NeighbourEvidence:
    """Fitted on the training pairs of a set of known compounds and entities (the "pool"); ``features`` gives
    [pairs, ``len(names)``] evidence for any pairs, identified by their pool keys (-1: not in the pool).

    Each item keeps its ``candidates`` most similar pool items (all of them, for pools up to that size); a
    pair's neighbours are the most similar of them that were measured with its partner. Behaviour similarity
    between two compounds is computed without the pair's own entity (and likewise for entities), so a training
    pair's measurement never selects or weighs its own neighbours, and training and new pairs see the same kind of
    evidence."""

    def __init__(self, ks: Sequence[int] = (3, 10, 30), candidates: int = 4096) -> None:
        if not ks or min(ks) < 1:
            raise ValueError(f"neighbour counts must be positive, got {list(ks)}")
        self.ks = tuple(sorted({int(k) for k in ks}))
        self.candidates = max(int(candidates), self.ks[-1])

    @property
    def names(self) -> list[str]:
        out = ["compound_mean", "compound_count", "entity_mean", "entity_count"]
        return out + [f"{kind}_k{k}_{what}" for kind in NEIGHBOURS for k in self.ks for what in ("mean", "weight")]

    def fit(self, compound_fps: Sequence, entity_vectors: np.ndarray, compound_index: np.ndarray,
            entity_index: np.ndarray, values: np.ndarray, centre: float | None = None) -> NeighbourEvidence:
        """``compound_fps`` / ``entity_vectors``: the pool's items; pairs index into them. ``centre``: the value
        behaviour is measured from and that stands in where there is no evidence (default: the mean cell)."""
        self.compound_fps = list(compound_fps)
        vectors = np.asarray(entity_vectors, dtype=np.float64)
        self.entity_mean = vectors.mean(axis=0) if len(vectors) else np.zeros(vectors.shape[1])
        std = vectors.std(axis=0) if len(vectors) else np.ones(vectors.shape[1])
        self.entity_std = np.where(std > 1e-8, std, 1.0)
        self.entity_vectors = (vectors - self.entity_mean) / self.entity_std
        self.n_compounds, self.n_entities = len(self.compound_fps), len(vectors)
        # candidates per item: every other pool item (exact) up to ``candidates``
        self.compound_candidates = max(1, min(self.candidates, self.n_compounds - 1))
        self.entity_candidates = max(1, min(self.candidates, self.n_entities - 1))
        # one value per measured cell (the mean of its replicates)
        keys = np.asarray(compound_index, np.int64) * self.n_entities + np.asarray(entity_index, np.int64)
        self.cell_keys, inverse = np.unique(keys, return_inverse=True)
        counts = np.bincount(inverse)
        self.cell_values = np.bincount(inverse, weights=np.asarray(values, np.float64)) / counts
        if centre is None:
            centre = float(self.cell_values.mean()) if len(self.cell_values) else 0.0
        self.global_mean = float(centre)
        cc, ce = self.cell_keys // self.n_entities, self.cell_keys % self.n_entities
        self.row_sum = np.bincount(cc, weights=self.cell_values, minlength=self.n_compounds)
        self.row_count = np.bincount(cc, minlength=self.n_compounds).astype(np.float64)
        self.col_sum = np.bincount(ce, weights=self.cell_values, minlength=self.n_entities)
        self.col_count = np.bincount(ce, minlength=self.n_entities).astype(np.float64)
        # measured behaviour: the centred values of an item over its partners; candidates by cosine, kept as raw
        # dot products so that a pair's own partner can be taken out of the comparison later
        centred = self.cell_values - self.global_mean
        by_compound = sparse.csr_matrix((centred, (cc, ce)), shape=(self.n_compounds, self.n_entities))
        by_entity = by_compound.T.tocsr()
        self.compound_norm2 = np.bincount(cc, weights=centred**2, minlength=self.n_compounds)
        self.entity_norm2 = np.bincount(ce, weights=centred**2, minlength=self.n_entities)
        self.compound_behaviour = _dot_candidates(by_compound, self.compound_norm2, self.compound_candidates)
        self.entity_behaviour = _dot_candidates(by_entity, self.entity_norm2, self.entity_candidates)
        return self

    def _cells(self, compounds: np.ndarray, entities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(value, measured) of pool cells; keys < 0 are never measured."""
        valid = (compounds >= 0) & (entities >= 0)
        if not len(self.cell_keys):
            return np.zeros(compounds.shape), np.zeros(compounds.shape, dtype=bool)
        keys = np.where(valid, compounds * self.n_entities + entities, -1)
        pos = np.clip(np.searchsorted(self.cell_keys, keys), 0, len(self.cell_keys) - 1)
        measured = valid & (self.cell_keys[pos] == keys)
        return np.where(measured, self.cell_values[pos], 0.0), measured

    def _partner_cells(self, idx: np.ndarray, partner: np.ndarray, compound_side: bool) -> tuple[
            np.ndarray, np.ndarray]:
        """(value, measured) of each candidate ``idx`` [pairs, c] with its pair's ``partner``."""
        partners = np.broadcast_to(partner[:, None], idx.shape)
        return self._cells(idx, partners) if compound_side else self._cells(partners, idx)

    def _neighbour_columns(self, sims: np.ndarray, values: np.ndarray, measured: np.ndarray) -> list[np.ndarray]:
        """[mean, weight] per k: of each pair's candidates (similarity ``sims``, cells from
        :meth:`_partner_cells`), the k most similar measured with the pair's partner."""
        sims = np.where(measured & (sims > 0), sims, 0.0)
        k_max = min(self.ks[-1], sims.shape[1])
        if k_max < sims.shape[1]:  # the k_max largest, then in order
            top = np.argpartition(-sims, k_max - 1, axis=1)[:, :k_max]
            order = np.take_along_axis(top, np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1,
                                                       kind="stable"), axis=1)
        else:
            order = np.argsort(-sims, axis=1, kind="stable")
        w, v = np.take_along_axis(sims, order, axis=1), np.take_along_axis(values, order, axis=1)
        num, den = np.cumsum(w * v, axis=1), np.cumsum(w, axis=1)
        out = []
        for k in self.ks:
            n, d = num[:, min(k, w.shape[1]) - 1], den[:, min(k, w.shape[1]) - 1]
            out += [np.where(d > 0, n / np.maximum(d, 1e-12), self.global_mean), d]
        return out

    def _behaviour_columns(self, candidates: tuple[np.ndarray, np.ndarray], norm2: np.ndarray, keys: np.ndarray,
                           partner: np.ndarray, own_value: np.ndarray, own_measured: np.ndarray,
                           compound_side: bool) -> list[np.ndarray]:
        """Evidence of the behaviour candidates of pool items ``keys`` (items outside the pool have none), their
        cosine similarity recomputed without the pair's ``partner`` (whose own cell is ``own_value``)."""
        inside = keys >= 0
        idx = np.where(inside[:, None], candidates[0][np.maximum(keys, 0)], -1)
        dots = np.where(inside[:, None], candidates[1][np.maximum(keys, 0)], 0.0)
        their_value, their_measured = self._partner_cells(idx, partner, compound_side)
        own = np.where(own_measured, own_value - self.global_mean, 0.0)
        theirs = np.where(their_measured, their_value - self.global_mean, 0.0)
        dots = dots - own[:, None] * theirs
        norm_self = np.maximum(norm2[np.maximum(keys, 0)] - own**2, 0.0)[:, None]
        norm_other = np.maximum(norm2[np.maximum(idx, 0)] - theirs**2, 0.0)
        sims = np.where((idx >= 0) & (norm_self > 0) & (norm_other > 0),
                        dots / np.sqrt(np.maximum(norm_self * norm_other, 1e-24)), 0.0)
        return self._neighbour_columns(sims, their_value, their_measured)

    def features(self, compound_fps: Sequence, entity_vectors: np.ndarray, compound_keys: np.ndarray,
                 entity_keys: np.ndarray, compound_index: np.ndarray, entity_index: np.ndarray,
                 leave_out: np.ndarray | None = None) -> np.ndarray:
        """Evidence for pairs (``compound_index`` into ``compound_fps`` / ``compound_keys``, likewise entities).
        ``*_keys``: each query item's pool position or -1; ``leave_out``: pairs whose own cell (a training pair)
        must not count."""
        compound_keys = np.asarray(compound_keys, np.int64)
        entity_keys = np.asarray(entity_keys, np.int64)
        ci, ei = np.asarray(compound_index, np.int64), np.asarray(entity_index, np.int64)
        leave = np.zeros(len(ci), bool) if leave_out is None else np.asarray(leave_out, bool)
        compound_fps = list(compound_fps)
        vectors = (np.asarray(entity_vectors, np.float64) - self.entity_mean) / self.entity_std
        inputs = _cosine_neighbours(vectors, self.entity_vectors, self.entity_candidates, entity_keys)
        # pairs in compound order, a chunk at a time: each chunk searches the structure neighbours of its own
        # compounds only, so memory stays bounded for any number of query compounds
        order = np.argsort(ci, kind="stable")
        chunk = max(1, 2**22 // max(self.compound_candidates, self.entity_candidates))  # pairs x candidates
        out = np.zeros((len(ci), len(self.names)), dtype=np.float32)
        for start in range(0, len(ci), chunk):
            at = order[start : start + chunk]
            c, e = ci[at], ei[at]
            ck, ek = compound_keys[c], entity_keys[e]
            distinct, local = np.unique(c, return_inverse=True)
            structure = _tanimoto_neighbours([compound_fps[i] for i in distinct], self.compound_fps,
                                             self.compound_candidates, compound_keys[distinct])
            own_value, measured = self._cells(ck, ek)
            own = measured & leave[at]
            row_count = np.where(ck >= 0, self.row_count[np.maximum(ck, 0)], 0.0) - own
            row_sum = np.where(ck >= 0, self.row_sum[np.maximum(ck, 0)], 0.0) - np.where(own, own_value, 0.0)
            col_count = np.where(ek >= 0, self.col_count[np.maximum(ek, 0)], 0.0) - own
            col_sum = np.where(ek >= 0, self.col_sum[np.maximum(ek, 0)], 0.0) - np.where(own, own_value, 0.0)
            columns = [np.where(row_count > 0, row_sum / np.maximum(row_count, 1), self.global_mean), row_count,
                       np.where(col_count > 0, col_sum / np.maximum(col_count, 1), self.global_mean), col_count]
            nearest = structure[0][local]
            columns += self._neighbour_columns(structure[1][local], *self._partner_cells(nearest, ek, True))
            columns += self._behaviour_columns(self.compound_behaviour, self.compound_norm2, ck, ek, own_value,
                                               measured, True)
            nearest = inputs[0][e]
            columns += self._neighbour_columns(inputs[1][e], *self._partner_cells(nearest, ck, False))
            columns += self._behaviour_columns(self.entity_behaviour, self.entity_norm2, ek, ck, own_value,
                                               measured, False)
            out[at] = np.column_stack(columns)
        return out

    def cells(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(compound key, entity key, mean value) of every measured cell: all a fitted instance needs to be
        rebuilt with :meth:`fit` (with the same pool items)."""
        return self.cell_keys // self.n_entities, self.cell_keys % self.n_entities, self.cell_values


def _dot_candidates(rows: sparse.csr_matrix, norm2: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` most cosine-similar other rows, as (indices [n, k], -1 where fewer; raw dot products).
    Exact for pools of at most ``k + 1`` items; beyond, a pair's neighbours come from these candidates, chosen
    with the pair's own partner still in the comparison."""
    norms = np.sqrt(norm2)
    idx_out, dot_out = [], []
    for start in range(0, rows.shape[0], _BLOCK):
        dots = (rows[start : start + _BLOCK] @ rows.T).toarray()
        denom = norms[start : start + len(dots), None] * norms[None, :]
        cos = np.where(denom > 0, dots / np.maximum(denom, 1e-24), 0.0)
        _exclude_self(cos, start, np.arange(rows.shape[0]))
        idx, _ = _top_k(cos, k, positive=False)  # the sign may change once a pair's partner is taken out
        idx_out.append(idx)
        dot_out.append(np.where(idx >= 0, np.take_along_axis(dots, np.maximum(idx, 0), axis=1), 0.0))
    if not idx_out:
        return np.zeros((0, k), dtype=np.int64), np.zeros((0, k))
    return np.concatenate(idx_out), np.concatenate(dot_out)
