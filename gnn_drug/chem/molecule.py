"""SMILES parsing that never raises an unexplained error: a molecule parses, or it fails with RDKit's reason."""

from __future__ import annotations

import contextlib
import io
import re

from rdkit import Chem, RDLogger, rdBase
from rdkit.Chem import AllChem

RDLogger.DisableLog("rdApp.*")


class InvalidMoleculeError(ValueError):
    """A molecule RDKit cannot parse or sanitise; ``reason`` is RDKit's own message."""

    def __init__(self, smiles: str, reason: str) -> None:
        super().__init__(f"{reason} (input: {smiles!r})")
        self.smiles = smiles
        self.reason = reason


_TIMESTAMP = re.compile(r"^\[\d\d:\d\d:\d\d\]\s*")


def _rdkit_parse_message(smiles: str) -> str:
    """Re-parse a failing SMILES with RDKit's error log captured, to recover RDKit's own reason."""
    buffer = io.StringIO()
    rdBase.LogToPythonStderr()
    RDLogger.EnableLog("rdApp.error")
    try:
        with contextlib.redirect_stderr(buffer):
            Chem.MolFromSmiles(smiles, sanitize=False)
    finally:
        RDLogger.DisableLog("rdApp.*")
    lines = [_TIMESTAMP.sub("", line).strip() for line in buffer.getvalue().splitlines()]
    lines = [line for line in lines if line and not set(line) <= {"^", " "} and line != smiles]
    return "; ".join(lines[:2]) if lines else "SMILES parse error"


def parse_smiles(smiles: object) -> Chem.Mol:
    """Parse and sanitise ``smiles``; raise :class:`InvalidMoleculeError` with RDKit's reason on failure."""
    if not isinstance(smiles, str) or not smiles.strip():
        raise InvalidMoleculeError(str(smiles), "empty or missing SMILES")
    text = smiles.strip()
    mol = Chem.MolFromSmiles(text)
    if mol is not None:
        if mol.GetNumAtoms() == 0:
            raise InvalidMoleculeError(text, "molecule has no atoms")
        return mol
    raw = Chem.MolFromSmiles(text, sanitize=False)
    if raw is None:
        raise InvalidMoleculeError(text, _rdkit_parse_message(text))
    try:
        Chem.SanitizeMol(raw)
    except Exception as exc:  # RDKit raises several sanitisation exception types
        raise InvalidMoleculeError(text, f"sanitisation failed: {exc}") from None
    return raw


_IMIDIC_ACID = Chem.MolFromSmarts("[OX2H1][CX3]=[NX2]")
_TO_AMIDE = AllChem.ReactionFromSmarts("[OX2H1:1][CX3:2]=[NX2:3]>>[O:1]=[C:2]-[N:3]")


def amide_from_imidic_acid(mol: Chem.Mol) -> Chem.Mol:
    """Rewrite imidic acids HO-C=N as amides O=C-N. RDKit builds molecules from InChI's mobile-hydrogen layer
    in the imidic-acid form (paracetamol from its standard InChI comes out as CC(O)=Nc1ccc(O)cc1), which no
    training set uses. The rewrite is kept only if the standard InChIKey is unchanged (the same compound)."""
    if not mol.HasSubstructMatch(_IMIDIC_ACID):
        return mol
    fixed = mol
    try:
        for _ in range(mol.GetNumAtoms()):
            if not fixed.HasSubstructMatch(_IMIDIC_ACID):
                break
            product = Chem.Mol(_TO_AMIDE.RunReactants((fixed,))[0][0])
            for atom in product.GetAtoms():
                if atom.HasProp("old_mapno"):  # the three rewritten atoms get their hydrogens recomputed
                    atom.SetNoImplicit(False)
                    atom.SetNumExplicitHs(0)
            Chem.SanitizeMol(product)
            fixed = product
    except Exception:  # a rewrite RDKit cannot sanitise: keep the molecule as InChI gave it
        return mol
    return fixed if Chem.MolToInchiKey(fixed) == Chem.MolToInchiKey(mol) else mol


def parse_inchi(inchi: object) -> Chem.Mol:
    """Parse a standard InChI into a sanitised molecule with amides as amides; raise
    :class:`InvalidMoleculeError` with the reason on failure."""
    if not isinstance(inchi, str) or not inchi.strip().startswith("InChI="):
        raise InvalidMoleculeError(str(inchi), "not an InChI string (must start with 'InChI=')")
    mol = Chem.MolFromInchi(inchi.strip(), sanitize=True, removeHs=True)
    if mol is None or mol.GetNumAtoms() == 0:
        raise InvalidMoleculeError(inchi.strip(), "RDKit cannot build a molecule from this InChI")
    return amide_from_imidic_acid(mol)
