"""Pairs as tensors for training: a batch holds each distinct compound and entity of its pairs once, and the
pairs as positions into them, so encoder cost grows with the distinct entities, not with the pairs.

:class:`PairDataset` has the same shape as :class:`MolGraphDataset` (``labels``, ``index_batches``,
``collate``, ``batches``, ``with_labels``, ``subset``), so the shared trainer fits pair models unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from gnn_drug.data.graph_dataset import MolBatch, MolGraphDataset, index_batches


@dataclass
class PairBatch:
    """``compounds``: the distinct compounds of the batch; ``entities``: their inputs (int64 tokens
    [u, length] or float32 vectors [u, d]); pair ``i`` joins ``compound_pos[i]`` with ``entity_pos[i]``."""

    compounds: MolBatch
    entities: torch.Tensor
    compound_pos: torch.Tensor
    entity_pos: torch.Tensor
    y: torch.Tensor | None = None
    compound_keys: torch.Tensor | None = None  # per distinct compound: its training-vocabulary id, -1 if new
    entity_keys: torch.Tensor | None = None  # per distinct entity: likewise
    pair_features: torch.Tensor | None = None  # per pair: e.g. neighbour evidence [pairs, f]

    @property
    def num_graphs(self) -> int:  # the number of pairs (what the trainer counts)
        return int(self.compound_pos.shape[0])

    def to(self, device: torch.device | str) -> PairBatch:
        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device)

        return PairBatch(self.compounds.to(device), self.entities.to(device), self.compound_pos.to(device),
                         self.entity_pos.to(device), move(self.y), move(self.compound_keys), move(self.entity_keys),
                         move(self.pair_features))


class PairDataset:
    """Measured (or to-be-predicted) pairs over shared compound graphs and entity inputs.

    ``entity_inputs`` rows are per entity: padded token rows for sequence encoders (trimmed per batch to the
    longest sequence in it) or feature vectors. ``compound_keys`` / ``entity_keys`` (optional, per compound of
    ``compounds`` / per entity row) are training-vocabulary ids for models that remember known items, -1 for new.
    ``pair_features`` (optional, [pairs, f]) travel with their pairs."""

    def __init__(self, compounds: MolGraphDataset, entity_inputs: np.ndarray, compound_index: np.ndarray,
                 entity_index: np.ndarray, labels: np.ndarray | None = None,
                 compound_keys: np.ndarray | None = None, entity_keys: np.ndarray | None = None,
                 pair_features: np.ndarray | None = None) -> None:
        self.compounds = compounds
        self.entity_inputs = entity_inputs
        self.compound_index = np.asarray(compound_index, dtype=np.int64)
        self.entity_index = np.asarray(entity_index, dtype=np.int64)
        if labels is not None:
            labels = np.asarray(labels, dtype=np.float32).reshape(len(self.compound_index), -1)
        self.labels = labels
        self.compound_keys = None if compound_keys is None else np.asarray(compound_keys, dtype=np.int64)
        self.entity_keys = None if entity_keys is None else np.asarray(entity_keys, dtype=np.int64)
        if pair_features is not None:
            pair_features = np.asarray(pair_features, dtype=np.float32)
            if len(pair_features) != len(self.compound_index):
                raise ValueError(f"{len(pair_features)} rows of pair features for {len(self.compound_index)} pairs")
        self.pair_features = pair_features
        self._tokens = entity_inputs.dtype == np.int64
        self._lengths = (entity_inputs > 0).sum(axis=1) if self._tokens else None

    def __len__(self) -> int:
        return len(self.compound_index)

    def collate(self, indices: np.ndarray) -> PairBatch:
        idx = np.asarray(indices, dtype=np.int64)
        comp, comp_pos = np.unique(self.compound_index[idx], return_inverse=True)
        ent, ent_pos = np.unique(self.entity_index[idx], return_inverse=True)
        inputs = self.entity_inputs[ent]
        if self._tokens:
            inputs = inputs[:, : max(1, int(self._lengths[ent].max()))]
        return PairBatch(
            compounds=self.compounds.collate(comp),
            entities=torch.from_numpy(np.ascontiguousarray(inputs)),
            compound_pos=torch.from_numpy(comp_pos.reshape(-1)),
            entity_pos=torch.from_numpy(ent_pos.reshape(-1)),
            y=None if self.labels is None else torch.from_numpy(self.labels[idx]),
            compound_keys=None if self.compound_keys is None else torch.from_numpy(self.compound_keys[comp]),
            entity_keys=None if self.entity_keys is None else torch.from_numpy(self.entity_keys[ent]),
            pair_features=None if self.pair_features is None else torch.from_numpy(self.pair_features[idx]),
        )

    def index_batches(self, batch_size: int, shuffle: bool = False, seed: int = 0,
                      drop_last: bool = False) -> Iterator[np.ndarray]:
        return index_batches(len(self), batch_size, shuffle, seed, drop_last)

    def batches(self, batch_size: int, shuffle: bool = False, seed: int = 0,
                drop_last: bool = False) -> Iterator[PairBatch]:
        for chunk in self.index_batches(batch_size, shuffle, seed, drop_last):
            yield self.collate(chunk)

    def with_labels(self, labels: np.ndarray) -> PairDataset:
        return PairDataset(self.compounds, self.entity_inputs, self.compound_index, self.entity_index, labels,
                           self.compound_keys, self.entity_keys, self.pair_features)

    def subset(self, indices: np.ndarray) -> PairDataset:
        idx = np.asarray(indices, dtype=np.int64)
        return PairDataset(self.compounds, self.entity_inputs, self.compound_index[idx], self.entity_index[idx],
                           None if self.labels is None else self.labels[idx], self.compound_keys, self.entity_keys,
                           None if self.pair_features is None else self.pair_features[idx])
