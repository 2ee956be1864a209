"""What the screening worker processes run. This module imports no torch (nor pandas), so each worker costs
RDKit's memory, not PyTorch's: the main process alone holds the models."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gnn_drug.chem import InvalidMoleculeError
from gnn_drug.chem.graph import pack_keys
from gnn_drug.data.featurize import MoleculeFeaturizer
from gnn_drug.screen.properties import MISSING_DETAILED, basic_properties, detailed_properties

_FEATURIZERS: list[MoleculeFeaturizer] = []
PACK_SIZE = 2048  # molecules per packed-key buffer: the parent expands one pack to float features at a time


def init_worker(featurizers: list[MoleculeFeaturizer]) -> None:
    global _FEATURIZERS
    _FEATURIZERS = featurizers
    from rdkit import RDLogger

    RDLogger.DisableLog("rdApp.*")


@dataclass
class Phase1Chunk:
    """One chunk's phase-1 results, compact and pickle-cheap: per valid molecule its row, canonical SMILES and
    basic properties; per featuriser the packed graph keys of all of them and their extra vectors; the rejects."""

    rows: list[int]
    canonical: list[str]
    graphs: list[list[bytes]]  # per featuriser: pack_keys(...) of consecutive runs of PACK_SIZE valid molecules
    extras: list[np.ndarray]  # per featuriser: [valid, extra_dim] float32
    basic: list[tuple]  # per valid molecule: BASIC_COLUMNS values
    rejects: list[tuple[int, str]] = field(default_factory=list)  # (row, reason)

    def __len__(self) -> int:
        return len(self.rows) + len(self.rejects)


def phase1_chunk(chunk: tuple[int, list[str]], featurizers: list[MoleculeFeaturizer] | None = None) -> Phase1Chunk:
    """Standardise and featurise each molecule for every featuriser, with its basic properties."""
    first_row, smiles = chunk
    featurizers = featurizers or _FEATURIZERS
    rows, canonical, basic, rejects = [], [], [], []
    keys: list[list] = [[] for _ in featurizers]
    extras: list[list] = [[] for _ in featurizers]
    for offset, s in enumerate(smiles):
        row = first_row + offset
        try:
            found = [featurizers[0].keys_with_mol(s)]
            found += [other.keys_with_mol(s) for other in featurizers[1:]]
        except InvalidMoleculeError as exc:
            rejects.append((row, exc.reason))
            continue
        rows.append(row)
        canonical.append(found[0][0])
        basic.append(basic_properties(found[0][1]))
        for k, (_, _, graph_keys, extra) in enumerate(found):
            keys[k].append(graph_keys)
            extras[k].append(extra)
    packs = [[pack_keys(k[i:i + PACK_SIZE]) for i in range(0, len(k), PACK_SIZE)] for k in keys]
    return Phase1Chunk(rows, canonical, packs,
                       [np.stack(e).astype(np.float32) if e else np.zeros((0, f.extra_dim), np.float32)
                        for e, f in zip(extras, featurizers, strict=True)], basic, rejects)


def phase2_chunk(smiles: list[str]) -> list[tuple]:
    from rdkit import Chem

    out = []
    for s in smiles:
        mol = Chem.MolFromSmiles(s)
        out.append(detailed_properties(mol) if mol is not None else MISSING_DETAILED)
    return out
