"""Medicinal-chemistry properties and structural alerts of a molecule, from RDKit, in two tiers.

Basic (every molecule of a screen; ~40 µs): MW, cLogP (Crippen), TPSA, H-bond donors/acceptors, rotatable bonds,
heavy atoms, Lipinski rule-of-five violations, Veber's rule. Detailed (the shortlist; ~3–8 ms, measured): QED,
PAINS and Brenk alerts (RDKit FilterCatalog), InChIKey. The filter catalogues are built once per process.
"""

from __future__ import annotations

from rdkit import Chem
from rdkit.Chem import QED, Crippen, Descriptors, rdMolDescriptors
from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams

BASIC_COLUMNS = ("mol_wt", "clogp", "tpsa", "hbd", "hba", "rotatable_bonds", "heavy_atoms", "lipinski_violations",
                 "veber_ok")
DETAILED_COLUMNS = ("qed", "pains", "brenk", "inchikey")

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
    mw = Descriptors.MolWt(mol)
    logp = Crippen.MolLogP(mol)
    tpsa = rdMolDescriptors.CalcTPSA(mol)
    hbd = rdMolDescriptors.CalcNumHBD(mol)
    hba = rdMolDescriptors.CalcNumHBA(mol)
    rotatable = rdMolDescriptors.CalcNumRotatableBonds(mol)
    violations = int(mw > 500) + int(logp > 5) + int(hbd > 5) + int(hba > 10)
    veber = bool(rotatable <= 10 and tpsa <= 140)
    return mw, logp, tpsa, hbd, hba, rotatable, mol.GetNumHeavyAtoms(), violations, veber


def detailed_properties(mol: Chem.Mol) -> tuple:
    """Values of :data:`DETAILED_COLUMNS`, in that order."""
    try:
        qed = float(QED.qed(mol))
    except (ValueError, RuntimeError):  # QED fails on a few exotic valences
        qed = float("nan")
    return qed, alerts(mol, "pains"), alerts(mol, "brenk"), Chem.MolToInchiKey(mol) or ""
