"""Medicinal-chemistry properties and structural alerts of a molecule, from RDKit, in two tiers.

Basic (every molecule of a screen; ~10 µs): MW, TPSA, H-bond donors, heavy atoms. Detailed (the shortlist; ~3–8 ms
measured, most of it PAINS matching and QED): H-bond acceptors and rotatable bonds (RDKit's SMARTS-based
definitions, ~0.13 ms together — a fifth of a screening worker's time per molecule, which is why they are not in
the basic tier), Veber's rule, cLogP (Crippen), Lipinski rule-of-five violations, QED, PAINS and Brenk alerts (RDKit
FilterCatalog), InChIKey. The filter catalogues are built once per process.
"""

from __future__ import annotations

from rdkit import Chem
from rdkit.Chem import QED, Crippen, Descriptors, rdMolDescriptors
from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams

BASIC_COLUMNS = ("mol_wt", "tpsa", "hbd", "heavy_atoms")
DETAILED_COLUMNS = ("hba", "rotatable_bonds", "veber_ok", "clogp", "lipinski_violations", "qed", "pains", "brenk",
                    "inchikey")
# what phase 2 records for a shortlisted SMILES that no longer parses (never expected: it was canonicalised by RDKit)
MISSING_DETAILED = (float("nan"), float("nan"), None, float("nan"), float("nan"), float("nan"), None, None, None)

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
    return (Descriptors.MolWt(mol), rdMolDescriptors.CalcTPSA(mol), rdMolDescriptors.CalcNumHBD(mol),
            mol.GetNumHeavyAtoms())


def detailed_properties(mol: Chem.Mol) -> tuple:
    """Values of :data:`DETAILED_COLUMNS`, in that order."""
    hba = rdMolDescriptors.CalcNumHBA(mol)
    rotatable = rdMolDescriptors.CalcNumRotatableBonds(mol)
    veber = bool(rotatable <= 10 and rdMolDescriptors.CalcTPSA(mol) <= 140)
    logp = Crippen.MolLogP(mol)
    violations = (int(Descriptors.MolWt(mol) > 500) + int(logp > 5) + int(rdMolDescriptors.CalcNumHBD(mol) > 5)
                  + int(hba > 10))
    try:
        qed = float(QED.qed(mol))
    except (ValueError, RuntimeError):  # QED fails on a few exotic valences
        qed = float("nan")
    return (hba, rotatable, veber, logp, violations, qed, alerts(mol, "pains"), alerts(mol, "brenk"),
            Chem.MolToInchiKey(mol) or "")
