"""Bemis–Murcko scaffolds, the grouping key of scaffold splits."""

from __future__ import annotations

from rdkit import Chem
from rdkit.Chem.Scaffolds import MurckoScaffold


def murcko_scaffold(mol: Chem.Mol, include_chirality: bool = False) -> str:
    """Canonical SMILES of the Bemis–Murcko scaffold; '' for acyclic molecules (they share one group)."""
    core = MurckoScaffold.GetScaffoldForMol(mol)
    return Chem.MolToSmiles(core, isomericSmiles=include_chirality)
