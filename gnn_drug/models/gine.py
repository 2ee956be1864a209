"""GIN with edge features (GINE; Hu et al. 2020) as a molecule encoder.

Each layer: h_v' = MLP((1 + eps) h_v + sum_{u in N(v)} ReLU(h_u + W_e e_uv)), with a residual connection,
batch norm and dropout; the molecule vector is a readout over the last layer's atom vectors.
"""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.nn import GINEConv

from gnn_drug.data.graph_dataset import MolBatch
from gnn_drug.models.readout import readout, readout_width


class GINEEncoder(nn.Module):
    def __init__(self, atom_dim: int, bond_dim: int, hidden_dim: int = 300, depth: int = 4,
                 dropout: float = 0.0, readout: str = "mean") -> None:
        super().__init__()
        self.atom_in = nn.Linear(atom_dim, hidden_dim)
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        for _ in range(depth):
            mlp = nn.Sequential(nn.Linear(hidden_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, hidden_dim))
            self.convs.append(GINEConv(mlp, train_eps=True, edge_dim=bond_dim))
            self.norms.append(nn.BatchNorm1d(hidden_dim))
        self.dropout = nn.Dropout(dropout)
        self.readout = readout
        self.out_dim = readout_width(hidden_dim, readout)

    def forward(self, batch: MolBatch) -> torch.Tensor:
        h = self.atom_in(batch.x)
        for conv, norm in zip(self.convs, self.norms, strict=True):
            h = h + self.dropout(torch.relu(norm(conv(h, batch.edge_index, batch.edge_attr))))
        return readout(h, batch.batch, batch.num_graphs, self.readout)
