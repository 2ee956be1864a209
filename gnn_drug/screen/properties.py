"""Medicinal-chemistry properties and structural alerts of a molecule, from RDKit, in two tiers.

Basic (every molecule of a screen; ~0.1 ms): MW, TPSA, H-bond donors/acceptors, rotatable bonds, heavy atoms,
Veber's rule. Detailed (the shortlist; ~3–8 ms measured, most of it PAINS matching and QED): cLogP (Crippen, itself
~0.15 ms), Lipinski rule-of-five violations, QED, PAINS and Brenk alerts (RDKit FilterCatalog), InChIKey. The filter
catalogues are built once per process.
"""

from __future__ import annotations

from rdkit import Chem
from rdkit.Chem import QED, Crippen, Descriptors, rdMolDescriptors
from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams

BASIC_COLUMNS = ("mol_wt", "tpsa", "hbd", "hba", "rotatable_bonds", "heavy_atoms", "veber_ok")
DETAILED_COLUMNS = ("clogp", "lipinski_violations", "qed", "pains", "brenk", "inchikey")

_CATALOGS: dict[str, FilterCatalog] = {}


def _catalog(name: str) -> FilterCatalog:
    if name not in _CATALOGS:
        params = FilterCatalogParams()
        params.AddCatalog(getattr(FilterCatalogParams.FilterCatalogs, name.upper()))
        _CATALOGS[name] = FilterCatalog(params)
    return _CATALOGS[name]


def alerts(mol: Chem.Mol, catalog: str) -> str:
    """Names of the alerts of ``catalog`` ('pains' or 'brenk') that match, ';'-joined ('' when none)."""
    return ";".join(sorted({m.GetDescription() for m in _catalog(catalog).GetMatches(mol)}))


def basic_properties(mol: Chem.Mol) -> tuple:
    """Values of :data:`BASIC_COLUMNS`, in that order."""
    tpsa = rdMolDescriptors.CalcTPSA(mol)
    rotatable = rdMolDescriptors.CalcNumRotatableBonds(mol)
    return (Descriptors.MolWt(mol), tpsa, rdMolDescriptors.CalcNumHBD(mol), rdMolDescriptors.CalcNumHBA(mol),
            rotatable, mol.GetNumHeavyAtoms(), bool(rotatable <= 10 and tpsa <= 140))


def detailed_properties(mol: Chem.Mol) -> tuple:
    """Values of :data:`DETAILED_COLUMNS`, in that order."""
    logp = Crippen.MolLogP(mol)
    violations = (int(Descriptors.MolWt(mol) > 500) + int(logp > 5) + int(rdMolDescriptors.CalcNumHBD(mol) > 5)
                  + int(rdMolDescriptors.CalcNumHBA(mol) > 10))
    try:
        qed = float(QED.qed(mol))
    except (ValueError, RuntimeError):  # QED fails on a few exotic valences
        qed = float("nan")
    return logp, violations, qed, alerts(mol, "pains"), alerts(mol, "brenk"), Chem.MolToInchiKey(mol) or ""
