"""What the screening worker processes run. This module imports no torch (nor pandas), so each worker costs
RDKit's memory, not PyTorch's: the main process alone holds the models."""

from __future__ import annotations

from gnn_drug.chem import InvalidMoleculeError
from gnn_drug.data.featurize import MoleculeFeaturizer
from gnn_drug.screen.properties import basic_properties, detailed_properties

_FEATURIZERS: list[MoleculeFeaturizer] = []


def init_worker(featurizers: list[MoleculeFeaturizer]) -> None:
    global _FEATURIZERS
    _FEATURIZERS = featurizers
    from rdkit import RDLogger

    RDLogger.DisableLog("rdApp.*")


def phase1_chunk(chunk: tuple[int, list[str]], featurizers: list[MoleculeFeaturizer] | None = None) -> list:
    """Per molecule: (row, canonical, [graph bytes, extra bytes] per featuriser, basic properties) or a reject."""
    first_row, smiles = chunk
    featurizers = featurizers or _FEATURIZERS
    out = []
    for offset, s in enumerate(smiles):
        row = first_row + offset
        try:
            canonical, mol, graph, extra = featurizers[0].featurize_with_mol(s)
            features = [(graph.to_bytes(), extra.tobytes())]
            for other in featurizers[1:]:
                _, _, g, e = other.featurize_with_mol(s)
                features.append((g.to_bytes(), e.tobytes()))
            out.append((row, canonical, features, basic_properties(mol)))
        except InvalidMoleculeError as exc:
            out.append((row, None, exc.reason, None))
    return out


def phase2_chunk(smiles: list[str]) -> list[tuple]:
    from rdkit import Chem

    out = []
    for s in smiles:
        mol = Chem.MolFromSmiles(s)
        out.append(detailed_properties(mol) if mol is not None else (float("nan"), 0, float("nan"), "", "", ""))
    return out
