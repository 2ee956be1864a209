"""Molecule standardisation with RDKit's MolStandardize, so the same compound always gets the same features.

Steps (each optional): cleanup (normalise functional groups, reionise, disconnect metals), keep the largest
organic fragment (strips salts and solvents), neutralise charges, and pick RDKit's canonical tautomer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rdkit import Chem
from rdkit.Chem.MolStandardize import rdMolStandardize

from gnn_drug.chem.molecule import InvalidMoleculeError, parse_smiles

_CHARGED = Chem.MolFromSmarts("[!+0]")
_BRACKET = re.compile(r"\[([^\]]*)\]")
_BRACKET_ATOM = re.compile(r"^\d*(Cl|Br|B|C|N|O|P|S|F|I|b|c|n|o|p|s)(@{0,2}|@[A-Z]{2}\d*)(H\d?)?(:\d+)?$")


def has_only_plain_atoms(smiles: str) -> bool:
    """True when every atom of ``smiles`` is an uncharged organic-subset atom that is not an explicit hydrogen
    (bracket atoms such as ``[nH]`` or ``[C@@H]`` included). Such a molecule has no explicit H atoms, metals or
    formal charges, so removing Hs, disconnecting metals, reionising and uncharging would leave it unchanged —
    :class:`Standardizer` skips those steps for it (a third of the standardisation cost on typical libraries)."""
    return all(_BRACKET_ATOM.match(atom) for atom in _BRACKET.findall(smiles))


@dataclass(frozen=True)
class StandardizedMolecule:
    """A parsed, standardised molecule and its canonical SMILES."""

    mol: Chem.Mol
    smiles: str

    @property
    def inchikey(self) -> str:
        return Chem.MolToInchiKey(self.mol)


@dataclass
class Standardizer:
    """Callable that turns a SMILES string into a :class:`StandardizedMolecule`.

    Raises :class:`InvalidMoleculeError` (with RDKit's reason) for input that cannot be parsed or standardised.
    """

    cleanup: bool = True
    largest_fragment: bool = True
    uncharge: bool = True
    canonical_tautomer: bool = False
    _tools: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def version(self) -> str:
        flags = "".join(
            str(int(f)) for f in (self.cleanup, self.largest_fragment, self.uncharge, self.canonical_tautomer)
        )
        return f"std2-{flags}"

    _FACTORIES = {
        "fragment": lambda: rdMolStandardize.LargestFragmentChooser(preferOrganic=True),
        "uncharge": lambda: rdMolStandardize.Uncharger(canonicalOrder=True),
        "tautomer": rdMolStandardize.TautomerEnumerator,
        "metals": rdMolStandardize.MetalDisconnector,
        "normalize": rdMolStandardize.Normalizer,
        "reionize": rdMolStandardize.Reionizer,
    }

    def _tool(self, name: str):
        """RDKit standardisation objects are built once per process (``Cleanup()`` rebuilds them every call)."""
        tool = self._tools.get(name)
        if tool is None:
            tool = self._tools[name] = self._FACTORIES[name]()
        return tool

    def _cleanup(self, mol: Chem.Mol, plain: bool = False) -> Chem.Mol:
        """The steps of ``rdMolStandardize.Cleanup`` with reusable tools (same result, ~40% faster); ``plain``
        molecules (see :func:`has_only_plain_atoms`) skip the steps that cannot change them."""
        if not plain:
            mol = Chem.RemoveHs(mol)
            mol = self._tool("metals").Disconnect(mol)
        mol = self._tool("normalize").normalize(mol)
        if not plain or mol.HasSubstructMatch(_CHARGED):  # normalising can create charges (nitro groups)
            mol = self._tool("reionize").reionize(mol)
        Chem.AssignStereochemistry(mol, cleanIt=True, force=True)
        return mol

    def standardize_mol(self, mol: Chem.Mol, source: str = "", plain: bool = False) -> Chem.Mol:
        try:
            if self.cleanup:
                mol = self._cleanup(mol, plain)
            if self.largest_fragment and len(Chem.GetMolFrags(mol)) > 1:
                mol = self._tool("fragment").choose(mol)
            if self.uncharge and (not plain or mol.HasSubstructMatch(_CHARGED)):
                mol = self._tool("uncharge").uncharge(mol)
            if self.canonical_tautomer:
                mol = self._tool("tautomer").Canonicalize(mol)
        except Exception as exc:  # RDKit raises several exception types during standardisation
            raise InvalidMoleculeError(source, f"standardisation failed: {exc}") from None
        if mol is None or mol.GetNumAtoms() == 0:
            raise InvalidMoleculeError(source, "standardisation left no atoms")
        return mol

    def __call__(self, smiles: str) -> StandardizedMolecule:
        """Standardise, then return the molecule as parsed from its canonical SMILES, so that its atom and bond
        order (and so every feature computed from it) depends on the molecule alone, not on how it was written."""
        mol = self.standardize_mol(parse_smiles(smiles), smiles, plain=has_only_plain_atoms(smiles))
        canonical = Chem.MolToSmiles(mol)
        if canonical != smiles:
            reparsed = Chem.MolFromSmiles(canonical)
            if reparsed is None:
                raise InvalidMoleculeError(smiles, f"canonical SMILES {canonical!r} of the standardised molecule "
                                                   "does not parse")
            mol = reparsed
        return StandardizedMolecule(mol=mol, smiles=canonical)

    def __getstate__(self) -> dict:
        # RDKit standardisation tools are not picklable; workers rebuild them lazily.
        state = self.__dict__.copy()
        state["_tools"] = {}
        return state
