"""A pair model: a molecular GNN for the compound, an entity encoder for the protein or cell line, and an MLP
on the fused vectors. ``concat``: y = MLP([c || e]); ``product`` adds an explicit multiplicative interaction,
y = MLP([c || e || (W_c c) * (W_e e)]), which an MLP on a concatenation learns only slowly. c = GNN(compound),
e = E(entity); each distinct compound and entity of a batch is encoded once and gathered per pair.

With ``known_compounds`` / ``known_entities`` > 0 the model also remembers the items it was trained on: a learned
vector per training compound (entity) is added to its encoding. The vectors start at zero and only training items
receive gradient, so a new compound or entity is scored from its structure (sequence, profile) alone — the model
stays inductive while using what the measurements say about each known item beyond its features (matrix
completion when every item is known, as in Davis/KIBA setting 1 or GDSC mixed splits).

``pair_feature_dim`` > 0: each pair also brings a feature vector (e.g. neighbour evidence from the training
measurements) that joins the fused vector at the head's input."""

from __future__ import annotations

import torch
from torch import nn

from gnn_drug.data.pair_dataset import PairBatch
from gnn_drug.models.molecule_model import build_molecule_encoder, mlp


class PairModel(nn.Module):
    def __init__(self, compound_encoder: str, atom_dim: int, bond_dim: int, entity_encoder: nn.Module,
                 num_outputs: int = 1, hidden_dim: int = 300, depth: int = 3, dropout: float = 0.0,
                 readout: str = "mean", head_hidden_dim: int = 512, head_layers: int = 3,
                 compound_extra_dim: int = 0, fusion: str = "concat", fusion_dim: int = 128,
                 known_compounds: int = 0, known_entities: int = 0, pair_feature_dim: int = 0) -> None:
        super().__init__()
        self.compound_encoder = build_molecule_encoder(compound_encoder, atom_dim, bond_dim, hidden_dim, depth,
                                                       dropout, readout)
        self.entity_encoder = entity_encoder
        self.compound_extra_dim = compound_extra_dim
        compound_dim = self.compound_encoder.out_dim + compound_extra_dim
        width = compound_dim + entity_encoder.out_dim
        if fusion not in ("concat", "product"):
            raise ValueError(f"unknown fusion {fusion!r}; choose concat or product")
        self.fusion = fusion
        if fusion == "product":
            self.project_compound = nn.Linear(compound_dim, fusion_dim)
            self.project_entity = nn.Linear(entity_encoder.out_dim, fusion_dim)
            width += fusion_dim
        self.pair_feature_dim = pair_feature_dim
        width += pair_feature_dim
        self.head = mlp(width, head_hidden_dim, num_outputs, head_layers, dropout)
        self.compound_memory = _zero_embedding(known_compounds, compound_dim)
        self.entity_memory = _zero_embedding(known_entities, entity_encoder.out_dim)

    def encode_compounds(self, batch: PairBatch) -> torch.Tensor:
        z = self.compound_encoder(batch.compounds)
        return torch.cat([z, batch.compounds.extra], dim=1) if self.compound_extra_dim else z

    def forward(self, batch: PairBatch) -> torch.Tensor:
        compounds = _remember(self.compound_memory, self.encode_compounds(batch), batch.compound_keys)
        entities = _remember(self.entity_memory, self.entity_encoder(batch.entities), batch.entity_keys)
        c, e = compounds[batch.compound_pos], entities[batch.entity_pos]
        parts = [c, e]
        if self.fusion == "product":
            parts.append(self.project_compound(c) * self.project_entity(e))
        if self.pair_feature_dim:
            if batch.pair_features is None:
                raise ValueError("this model reads per-pair features: batches need them")
            parts.append(batch.pair_features)
        return self.head(torch.cat(parts, dim=1))


def _zero_embedding(known: int, dim: int) -> nn.Embedding | None:
    """``known`` learned rows plus a last, never-trained row for new items; all zero at the start."""
    if known <= 0:
        return None
    table = nn.Embedding(known + 1, dim)
    nn.init.zeros_(table.weight)
    return table


def _remember(memory: nn.Embedding | None, encoded: torch.Tensor, keys: torch.Tensor | None) -> torch.Tensor:
    if memory is None:
        return encoded
    if keys is None:
        raise ValueError("this model remembers known items: batches need their vocabulary keys")
    unknown = memory.num_embeddings - 1
    return encoded + memory(torch.where(keys < 0, torch.full_like(keys, unknown), keys))
