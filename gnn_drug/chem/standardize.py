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
# a bracket atom that is not an uncharged organic-subset atom (isotope, chirality, H count and map number allowed)
_NON_PLAIN_BRACKET = re.compile(
    r"\[(?!\d*(?:Cl|Br|B|C|N|O|P|S|F|I|b|c|n|o|p|s)(?:@{0,2}|@[A-Z]{2}\d*)(?:H\d?)?(?::\d+)?\])")
# Which of RDKit's default normalisations can change a molecule without charged atoms: every other transform's
# template needs a charged atom. Each entry: the characters one of its matches must put in the SMILES (a cheap
# test that skips the substructure search), and the template's reactant side. P/As/Sb with two double-bonded
# chalcogens ("nitro" to ylide form; nitrogen itself cannot be pentavalent after sanitisation), aromatic N=O
# (pyridine oxide), a neutral three-connected sulfoxide, and azide/diazo N#N with a further multiple bond.
_UNCHARGED_NORMALISATIONS = (
    (("P", "p", "As", "Sb"), Chem.MolFromSmarts("[N,P,As,Sb;X3](=[O,S,Se,Te])=[O,S,Se,Te]")),
    (("n", "N"), Chem.MolFromSmarts("[nH0+0]=[OH0+0]")),  # a Kekulé-written ring makes an aromatic N too
    (("S", "s"), Chem.MolFromSmarts("[!O][S+0;X3](=O)[!O]")),
    (("#",), Chem.MolFromSmarts("*=N#N")),
)


def has_only_plain_atoms(smiles: str) -> bool:
    """True when every atom of ``smiles`` is an uncharged organic-subset atom that is not an explicit hydrogen
    (bracket atoms such as ``[nH]`` or ``[C@@H]`` included). Such a molecule has no explicit H atoms, metals or
    formal charges, so removing Hs, disconnecting metals, reionising and uncharging would leave it unchanged —
    :class:`Standardizer` skips those steps for it (a third of the standardisation cost on typical libraries)."""
    return _NON_PLAIN_BRACKET.search(smiles) is None


def normalisation_can_apply(mol: Chem.Mol, smiles: str | None = None) -> bool:
    """False when RDKit's default normaliser would return ``mol`` unchanged: it has no charged atom (sanitising
    can create some from uncharged SMILES: nitro groups, N-oxides, azides) and none of the transforms that need
    none matches it. Normalising costs ~0.1 ms per molecule, a fifth of a screening worker's time; this test a few
    microseconds. A test compares the result with full normalisation on thousands of real molecules, so a new
    RDKit transform would show. ``smiles``, the molecule's SMILES, lets most molecules skip the searches."""
    return mol.HasSubstructMatch(_CHARGED) or any(
        (smiles is None or any(c in smiles for c in chars)) and mol.HasSubstructMatch(query)
        for chars, query in _UNCHARGED_NORMALISATIONS)


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

    def _cleanup(self, mol: Chem.Mol, plain: bool = False, source: str = "") -> Chem.Mol:
        """The steps of ``rdMolStandardize.Cleanup`` with reusable tools (same result, ~40% faster); ``plain``
        molecules (see :func:`has_only_plain_atoms`) skip the steps that cannot change them, and the normaliser
        when :func:`normalisation_can_apply` says it would change nothing (``source``: their SMILES)."""
        if not plain:
            mol = Chem.RemoveHs(mol)
            mol = self._tool("metals").Disconnect(mol)
        if not plain or normalisation_can_apply(mol, source or None):
            mol = self._tool("normalize").normalize(mol)
        if not plain or mol.HasSubstructMatch(_CHARGED):  # normalising can create charges (nitro groups)
            mol = self._tool("reionize").reionize(mol)
        Chem.AssignStereochemistry(mol, cleanIt=True, force=True)
        return mol

    def standardize_mol(self, mol: Chem.Mol, source: str = "", plain: bool = False) -> Chem.Mol:
        try:
            if self.cleanup:
                mol = self._cleanup(mol, plain, source)
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
