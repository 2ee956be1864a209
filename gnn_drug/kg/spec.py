"""A knowledge graph declared as data: node tables (or id lists) and typed edge tables (or 0/1 matrices), in
YAML validated by pydantic. Paths may start with ``data:`` (relative to ``--data-dir`` / ``GNN_DRUG_DATA``) or
be relative to the spec file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gnn_drug.data.registry import resolve_data_path
from gnn_drug.errors import ConfigError
from gnn_drug.yaml_files import read_yaml_mapping, validation_message


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NodeTableSpec(_Strict):
    """Nodes of one kind (``kind``) or of several (``kind_column``). ``format: list`` is one id per line."""

    file: str
    format: Literal["table", "list"] = "table"
    id_column: str | None = None
    kind: str | None = None
    kind_column: str | None = None
    name_column: str | None = None
    id_prefix: str = Field("", description="prepended to every id, e.g. 'Compound::' to match edge tables")

    @model_validator(mode="after")
    def _kind_given(self) -> NodeTableSpec:
        if (self.kind is None) == (self.kind_column is None):
            raise ValueError(f"{self.file}: give exactly one of kind and kind_column")
        if self.format == "table" and self.id_column is None:
            raise ValueError(f"{self.file}: a node table needs id_column")
        return self


class EndpointSpec(_Strict):
    """One end of an edge: its node kind, and the column (tables) or id list (matrix rows/columns) naming it."""

    kind: str
    column: str | None = None
    ids_file: str | None = None
    id_prefix: str = ""


class EdgeTableSpec(_Strict):
    file: str
    relation: str
    source: EndpointSpec
    target: EndpointSpec
    format: Literal["table", "matrix"] = "table"
    directed: bool = False
    weight_column: str | None = None
    where: dict[str, str] = Field(default_factory=dict, description="keep rows whose columns equal these values")
    abbreviation: str | None = Field(None, description="the source's name for this edge type, e.g. Hetionet CbG")
    keep_self_loops: bool = False
    join: bool = Field(False, description="this table joins two sources: report how many nodes it reaches")

    @model_validator(mode="after")
    def _endpoints(self) -> EdgeTableSpec:
        need = "column" if self.format == "table" else "ids_file"
        for end in (self.source, self.target):
            if getattr(end, need) is None:
                raise ValueError(f"{self.file}: a {self.format} edge source needs {need} for each endpoint")
        return self


class StructureTableSpec(_Strict):
    """Structures (SMILES or standard InChI) or protein sequences of nodes of one kind, joined by id; they become
    node features (fingerprints, k-mer composition) and let a compound outside the graph be scored."""

    file: str
    kind: str
    id_column: str
    id_prefix: str = ""
    smiles_column: str | None = None
    inchi_column: str | None = None
    sequence_column: str | None = None

    @model_validator(mode="after")
    def _one_column(self) -> StructureTableSpec:
        given = [c for c in (self.smiles_column, self.inchi_column, self.sequence_column) if c]
        if len(given) != 1:
            raise ValueError(f"{self.file}: give exactly one of smiles_column, inchi_column, sequence_column")
        return self


class SimilaritySpec(_Strict):
    """Edges joining each node of ``kind`` that has a structure to its ``top_k`` most similar nodes of the kind:
    Tanimoto on Morgan bits (radius 2, 2048) for compounds, cosine of ``kmer``-mer counts for protein sequences
    (an alignment-free homology proxy). Undirected, weighted by the similarity; DTINet and NeoDTI use such
    drug-drug and protein-protein similarity networks."""

    kind: str
    relation: str = "similar"
    top_k: int = Field(10, ge=1)
    min_similarity: float = Field(0.0, ge=0, le=1)
    kmer: int = Field(3, ge=1, le=5, description="sequences: k-mer length")


class KGSpec(_Strict):
    name: str
    description: str = ""
    nodes: list[NodeTableSpec] = Field(min_length=1)
    edges: list[EdgeTableSpec] = Field(min_length=1)
    structures: list[StructureTableSpec] = []
    similarity: list[SimilaritySpec] = []


def load_kg_spec(path: str | os.PathLike) -> KGSpec:
    raw = read_yaml_mapping(path, "knowledge-graph spec")
    try:
        return KGSpec.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid knowledge-graph spec — {validation_message(exc)}") from None


def resolve_spec_path(text: str, spec_path: str | os.PathLike | None, data_dir: str | os.PathLike | None) -> Path:
    """``data:REL`` against the data directory; other relative paths against the spec file's folder."""
    return resolve_data_path(text, data_dir, Path(spec_path).parent if spec_path is not None else None)
