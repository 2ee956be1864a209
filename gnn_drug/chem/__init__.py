"""RDKit-only chemistry: parsing with reasons, standardisation, featurisers and scaffolds (no torch here)."""

from gnn_drug.chem.descriptors import RDKit2DFeaturizer
from gnn_drug.chem.fingerprints import MorganFeaturizer
from gnn_drug.chem.graph import MolGraph, MolGraphFeaturizer
from gnn_drug.chem.molecule import InvalidMoleculeError, amide_from_imidic_acid, parse_inchi, parse_smiles
from gnn_drug.chem.scaffolds import murcko_scaffold
from gnn_drug.chem.standardize import StandardizedMolecule, Standardizer

__all__ = [
    "InvalidMoleculeError",
    "MolGraph",
    "MolGraphFeaturizer",
    "MorganFeaturizer",
    "RDKit2DFeaturizer",
    "StandardizedMolecule",
    "Standardizer",
    "amide_from_imidic_acid",
    "murcko_scaffold",
    "parse_inchi",
    "parse_smiles",
]
