"""SMILES parsing that never raises an unexplained error: a molecule parses, or it fails with RDKit's reason."""

from __future__ import annotations

import contextlib
import io
import re

from rdkit import Chem, RDLogger, rdBase

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
