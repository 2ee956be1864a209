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
