"""A molecule property model: graph encoder -> [molecule vector || extra features] -> MLP -> one output per task.

Outputs are logits for classification tasks and (scaled) values for regression tasks; the task layer owns
the meaning of each output column.
"""

from __future__ import annotations

import torch
from torch import nn

from gnn_drug.data.graph_dataset import MolBatch
from gnn_drug.models.attentive_fp import AttentiveFPEncoder
from gnn_drug.models.dmpnn import DMPNNEncoder
from gnn_drug.models.gine import GINEEncoder

ENCODERS: dict[str, type[nn.Module]] = {
    "dmpnn": DMPNNEncoder,
    "gine": GINEEncoder,
    "attentivefp": AttentiveFPEncoder,
}


def mlp(in_dim: int, hidden_dim: int, out_dim: int, layers: int, dropout: float) -> nn.Sequential:
    """``layers`` linear layers (>= 1) with ReLU and dropout between them."""
    blocks: list[nn.Module] = []
    width = in_dim
    for _ in range(layers - 1):
        blocks += [nn.Dropout(dropout), nn.Linear(width, hidden_dim), nn.ReLU()]
        width = hidden_dim
    blocks += [nn.Dropout(dropout), nn.Linear(width, out_dim)]
    return nn.Sequential(*blocks)


def build_molecule_encoder(encoder: str, atom_dim: int, bond_dim: int, hidden_dim: int = 300, depth: int = 3,
                           dropout: float = 0.0, readout: str = "mean") -> nn.Module:
    """A molecule encoder by name (``out_dim`` tells its vector width)."""
    if encoder not in ENCODERS:
        raise ValueError(f"unknown encoder {encoder!r}; choose from {sorted(ENCODERS)}")
    kwargs = {"readout": readout} if encoder != "attentivefp" else {}
    return ENCODERS[encoder](atom_dim, bond_dim, hidden_dim=hidden_dim, depth=depth, dropout=dropout, **kwargs)


class MoleculeModel(nn.Module):
    def __init__(self, encoder: str, atom_dim: int, bond_dim: int, num_tasks: int, extra_dim: int = 0,
                 hidden_dim: int = 300, depth: int = 3, dropout: float = 0.0, readout: str = "mean",
                 head_hidden_dim: int = 300, head_layers: int = 2) -> None:
        super().__init__()
        self.encoder = build_molecule_encoder(encoder, atom_dim, bond_dim, hidden_dim, depth, dropout, readout)
        self.extra_dim = extra_dim
        self.head = mlp(self.encoder.out_dim + extra_dim, head_hidden_dim, num_tasks, head_layers, dropout)

    def embed(self, batch: MolBatch) -> torch.Tensor:
        z = self.encoder(batch)
        if self.extra_dim:
            z = torch.cat([z, batch.extra], dim=1)
        return z

    def forward(self, batch: MolBatch) -> torch.Tensor:
        return self.head(self.embed(batch))
