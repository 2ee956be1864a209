"""Protein sequences as model inputs: validation, integer tokens for sequence CNNs, and k-mer composition
vectors (amino-acid and dipeptide frequencies) for the cheap MLP encoder."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product

import numpy as np

from gnn_drug.errors import DataError

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
#: one-letter codes accepted in a sequence: the 20 standard residues plus B, Z, J (ambiguous), U, O (rare) and
#: X (unknown); token 0 is padding, so the vocabulary has len(ALPHABET) + 1 entries
ALPHABET = AMINO_ACIDS + "BZJUOX"
_TOKEN = np.zeros(256, dtype=np.int64)
for _i, _c in enumerate(ALPHABET, start=1):
    _TOKEN[ord(_c)] = _i
    _TOKEN[ord(_c.lower())] = _i
VOCABULARY_SIZE = len(ALPHABET) + 1
_DIPEPTIDE_INDEX = {a + b: i for i, (a, b) in enumerate(product(AMINO_ACIDS, repeat=2))}


def clean_sequence(sequence: object, where: str) -> str:
    """Upper-case one-letter sequence without whitespace or a trailing stop ``*``; ``where`` names the file/row."""
    if not isinstance(sequence, str) or not sequence.strip():
        raise DataError(f"{where}: empty protein sequence")
    text = "".join(sequence.split()).upper().rstrip("*")
    bad = sorted({c for c in text if c not in ALPHABET})
    if bad:
        raise DataError(f"{where}: protein sequence contains {''.join(bad)!r}, which are not one-letter amino-acid "
                        f"codes ({ALPHABET})")
    return text


def tokenize_sequences(sequences: Sequence[str], max_length: int) -> np.ndarray:
    """[n, max_length] int64 tokens (0 = padding); sequences longer than ``max_length`` are truncated at the
    C-terminus, as in DeepDTA/GraphDTA."""
    tokens = np.zeros((len(sequences), max_length), dtype=np.int64)
    for i, seq in enumerate(sequences):
        codes = np.frombuffer(seq[:max_length].encode("ascii"), dtype=np.uint8)
        tokens[i, : len(codes)] = _TOKEN[codes]
    return tokens


def kmer_composition(sequences: Sequence[str]) -> np.ndarray:
    """[n, 420] float32: amino-acid (20) and dipeptide (400) frequencies; ambiguous residues are skipped."""
    out = np.zeros((len(sequences), len(AMINO_ACIDS) + len(_DIPEPTIDE_INDEX)), dtype=np.float32)
    for i, seq in enumerate(sequences):
        singles = [AMINO_ACIDS.find(c) for c in seq]
        counts = np.bincount([j for j in singles if j >= 0], minlength=len(AMINO_ACIDS))
        out[i, : len(AMINO_ACIDS)] = counts / max(1, counts.sum())
        pairs = [_DIPEPTIDE_INDEX[seq[k : k + 2]] for k in range(len(seq) - 1) if seq[k : k + 2] in _DIPEPTIDE_INDEX]
        if pairs:
            di = np.bincount(pairs, minlength=len(_DIPEPTIDE_INDEX))
            out[i, len(AMINO_ACIDS) :] = di / di.sum()
    return out


def kmer_neighbours(sequences: Sequence[str], k: int, top_k: int, min_similarity: float = 0.0,
                    block: int = 512) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, similarity) of each sequence's ``top_k`` most similar others by cosine similarity of their k-mer
    count vectors (standard residues only; a homology proxy that needs no alignment), at least ``min_similarity``;
    empty sequences have no neighbours. Memory O(n * block)."""
    from scipy import sparse

    index: dict[str, int] = {}
    rows, cols = [], []
    for i, seq in enumerate(sequences):
        for p in range(len(seq) - k + 1):
            word = seq[p : p + k]
            if all(c in AMINO_ACIDS for c in word):
                rows.append(i)
                cols.append(index.setdefault(word, len(index)))
    counts = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(sequences), max(len(index), 1)))
    counts.sum_duplicates()
    norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
    unit = sparse.diags(np.where(norms > 0, 1.0 / np.maximum(norms, 1e-12), 0.0)) @ counts
    out_i, out_j, out_s = [], [], []
    for start in range(0, len(sequences), block):
        sims = (unit[start : start + block] @ unit.T).toarray()
        for a in range(sims.shape[0]):
            i = start + a
            if norms[i] == 0:
                continue
            sims[a, i] = -1.0
            order = np.argsort(-sims[a], kind="stable")[:top_k]
            order = order[sims[a, order] >= max(min_similarity, 1e-12)]
            out_i += [i] * len(order)
            out_j += order.tolist()
            out_s += sims[a, order].tolist()
    return np.asarray(out_i, dtype=np.int64), np.asarray(out_j, dtype=np.int64), np.asarray(out_s, dtype=np.float64)
