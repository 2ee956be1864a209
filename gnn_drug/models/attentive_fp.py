"""AttentiveFP (Xiong et al. 2020): graph attention over atoms, then attentive GRU readout over the molecule.

Wraps PyG's :class:`torch_geometric.nn.models.AttentiveFP`, whose readout is itself learned (``num_timesteps``
rounds of attention between a super-node and the atoms), so no separate pooling is applied.
"""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.nn.models import AttentiveFP

from gnn_drug.data.graph_dataset import MolBatch


class AttentiveFPEncoder(nn.Module):
    def __init__(self, atom_dim: int, bond_dim: int, hidden_dim: int = 200, depth: int = 2,
                 dropout: float = 0.0, readout: str = "attention", num_timesteps: int = 2) -> None:
        super().__init__()
        self.net = AttentiveFP(in_channels=atom_dim, hidden_channels=hidden_dim, out_channels=hidden_dim,
                               edge_dim=bond_dim, num_layers=depth, num_timesteps=num_timesteps, dropout=dropout)
        self.out_dim = hidden_dim

    def forward(self, batch: MolBatch) -> torch.Tensor:
        return self.net(batch.x, batch.edge_index, batch.edge_attr, batch.batch)
