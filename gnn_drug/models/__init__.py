"""Models: molecule encoders (D-MPNN, GINE, AttentiveFP), readouts and prediction heads."""

from gnn_drug.models.molecule_model import ENCODERS, MoleculeModel

__all__ = ["ENCODERS", "MoleculeModel"]
