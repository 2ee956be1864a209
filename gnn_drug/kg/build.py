"""Build a heterogeneous knowledge graph from a :class:`KGSpec`: node id maps per kind, typed edge index arrays,
and a report of every edge row that was dropped (dangling id, duplicate, self-loop), per source file.

Saved as a folder: ``manifest.json`` (counts per node kind and edge type, source checksums, the drop report),
``nodes/<kind>.tsv`` (index, id, name) and ``edges.safetensors`` (one ``[2, E]`` int64 tensor per edge type) —
no pickles. :meth:`KnowledgeGraph.to_heterodata` gives the PyG ``HeteroData``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gnn_drug.data.registry import sha256_of
from gnn_drug.data.tables import read_table
from gnn_drug.errors import DataError
from gnn_drug.kg.spec import (
    EdgeTableSpec,
    KGSpec,
    NodeTableSpec,
    SimilaritySpec,
    StructureTableSpec,
    resolve_spec_path,
)

EdgeType = tuple[str, str, str]
MANIFEST = "manifest.json"
EDGES_FILE = "edges.safetensors"
EXAMPLES = 5


def edge_key(edge_type: EdgeType) -> str:
    return "|".join(edge_type)


@dataclass
class EdgeSet:
    """Edges of one type as node indices into the source and target kinds."""

    source: np.ndarray
    target: np.ndarray
    directed: bool
    abbreviation: str | None = None
    weight: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.source)


@dataclass
class KnowledgeGraph:
    name: str
    node_ids: dict[str, list[str]]
    node_names: dict[str, list[str]]
    edges: dict[EdgeType, EdgeSet]
    report: list[dict] = field(default_factory=list)  # per edge source: rows read, kept, dropped and why
    sources: dict[str, str] = field(default_factory=dict)  # file -> sha256
    node_report: list[dict] = field(default_factory=list)  # per node table: new, repeated, joined
    structures: dict[str, list[str]] = field(default_factory=dict)  # kind -> canonical SMILES or sequence ('')
    structure_types: dict[str, str] = field(default_factory=dict)  # kind -> "smiles" or "sequence"

    def index(self, kind: str) -> dict[str, int]:
        return {node: i for i, node in enumerate(self.node_ids[kind])}

    def node_counts(self) -> dict[str, int]:
        return {kind: len(ids) for kind, ids in self.node_ids.items()}

    def edge_counts(self) -> dict[str, int]:
        return {edge_key(t): len(e) for t, e in self.edges.items()}

    def to_heterodata(self):
        """PyG ``HeteroData``: ``num_nodes`` per kind, ``edge_index`` (and ``edge_weight``) per edge type."""
        import torch
        from torch_geometric.data import HeteroData

        data = HeteroData()
        for kind, ids in self.node_ids.items():
            data[kind].num_nodes = len(ids)
        for edge_type, edges in self.edges.items():
            data[edge_type].edge_index = torch.from_numpy(np.stack([edges.source, edges.target]).astype(np.int64))
            if edges.weight is not None:
                data[edge_type].edge_weight = torch.from_numpy(edges.weight.astype(np.float32))
        return data


# ---- reading -------------------------------------------------------------------------------------------------
def _read_list(path: Path) -> list[str]:
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as handle:
        return [line.strip() for line in handle if line.strip()]


def _read_edge_table(path: Path) -> pd.DataFrame:
    """``.sif`` (Hetionet's tab-separated source/metaedge/target) reads like TSV; others by extension."""
    if ".sif" in [s.lower() for s in path.suffixes]:
        return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    return read_table(path)


def _add_nodes(spec: NodeTableSpec, path: Path, ids: dict[str, dict[str, str]]) -> dict:
    """Add a table's nodes; an id already present (from an earlier table) is merged into one node. Returns the
    table's report: rows, new nodes, ids repeated within the table, ids joined to earlier tables, and examples
    of ids that joined nothing when the table was meant to join (some of its ids were already present)."""
    if spec.format == "list":
        frame = pd.DataFrame({"id": _read_list(path)})
        id_col, name_col = "id", None
    else:
        frame = read_table(path)
        id_col, name_col = spec.id_column, spec.name_column
        for column in (id_col, name_col, spec.kind_column):
            if column is not None and column not in frame.columns:
                raise DataError(f"{path}: no column {column!r}; columns are {list(frame.columns)}")
    kinds = frame[spec.kind_column].astype(str) if spec.kind_column else pd.Series(spec.kind, index=frame.index)
    names = frame[name_col].astype(str) if name_col else None
    before = {kind: set(table) for kind, table in ids.items()}
    new, repeated, joined = [], 0, 0
    for row, (node, kind) in enumerate(zip(frame[id_col].astype(str), kinds, strict=True)):
        table = ids.setdefault(kind, {})
        key = spec.id_prefix + node.strip()
        if key in table:
            if key in before.get(kind, ()):
                joined += 1
            else:
                repeated += 1
            continue
        table[key] = names.iloc[row] if names is not None else key
        new.append(key)
    return {"file": spec.file, "rows": len(frame), "new": len(new), "repeated_in_table": repeated,
            "joined_to_earlier_tables": joined, "not_joined_examples": new[:10] if joined else []}


def _add_structures(table: StructureTableSpec, path: Path, ids: dict[str, dict[str, str]],
                    structures: dict[str, list[str]]) -> dict:
    """Canonical SMILES (from SMILES or InChI, amides restored) or cleaned sequences for nodes of one kind; a
    node keeps the first structure it is given."""
    from rdkit import Chem

    from gnn_drug.chem import InvalidMoleculeError, parse_inchi, parse_smiles
    from gnn_drug.data.sequences import clean_sequence

    if table.kind not in ids:
        raise DataError(f"{path}: node kind {table.kind!r} has no node table; kinds are {sorted(ids)}")
    frame = read_table(path)
    column = table.smiles_column or table.inchi_column or table.sequence_column
    for needed in (table.id_column, column):
        if needed not in frame.columns:
            raise DataError(f"{path}: no column {needed!r}; columns are {list(frame.columns)}")
    position = {node: i for i, node in enumerate(ids[table.kind])}
    values = structures.setdefault(table.kind, [""] * len(position))
    failed, outside, parsed, already = [], 0, 0, 0
    for row, (node, raw) in enumerate(zip(frame[table.id_column].astype(str), frame[column], strict=True)):
        i = position.get(table.id_prefix + node.strip())
        if i is None:
            outside += 1
            continue
        if values[i]:  # an earlier table (or row) gave this node its structure: the first one wins
            already += 1
            continue
        try:
            if table.sequence_column:
                values[i] = clean_sequence(raw, f"{path}: row {row + 1}")
            else:
                mol = parse_inchi(raw) if table.inchi_column else parse_smiles(raw)
                values[i] = Chem.MolToSmiles(mol)
            parsed += 1
        except (InvalidMoleculeError, DataError) as exc:
            failed.append({"row": row + 1, "id": node, "reason": str(exc)[:200]})
    return {"file": table.file, "kind": table.kind, "rows": len(frame), "parsed": parsed,
            "not_in_graph": outside, "already_set": already, "failed": len(failed), "failed_examples": failed[:10],
            "nodes_without": int(sum(1 for v in values if not v))}


def _edge_rows(spec: EdgeTableSpec, path: Path, spec_path, data_dir) -> tuple[np.ndarray, np.ndarray,
                                                                                 np.ndarray | None, int]:
    """Raw (source id, target id, weight) of one edge source, after ``where`` filters; and its row count."""
    if spec.format == "matrix":
        matrix = pd.read_csv(path, sep=r"\s+", header=None, dtype=np.float32).to_numpy()
        rows_ids = _read_list(resolve_spec_path(spec.source.ids_file, spec_path, data_dir))
        cols_ids = _read_list(resolve_spec_path(spec.target.ids_file, spec_path, data_dir))
        if matrix.shape != (len(rows_ids), len(cols_ids)):
            raise DataError(f"{path}: matrix is {matrix.shape[0]} x {matrix.shape[1]}, but the id lists have "
                            f"{len(rows_ids)} and {len(cols_ids)} entries")
        i, j = np.nonzero(matrix)
        src = np.array([spec.source.id_prefix + rows_ids[k] for k in i], dtype=object)
        dst = np.array([spec.target.id_prefix + cols_ids[k] for k in j], dtype=object)
        weight = matrix[i, j] if spec.weight_column == "value" else None
        return src, dst, weight, int(matrix.size)
    frame = _read_edge_table(path)
    for column, value in spec.where.items():
        if column not in frame.columns:
            raise DataError(f"{path}: no column {column!r} to filter on; columns are {list(frame.columns)}")
        frame = frame[frame[column].astype(str) == value]
    for column in (spec.source.column, spec.target.column, spec.weight_column):
        if column is not None and column not in frame.columns:
            raise DataError(f"{path}: no column {column!r}; columns are {list(frame.columns)}")
    src = (spec.source.id_prefix + frame[spec.source.column].astype(str).str.strip()).to_numpy(dtype=object)
    dst = (spec.target.id_prefix + frame[spec.target.column].astype(str).str.strip()).to_numpy(dtype=object)
    weight = None
    if spec.weight_column is not None:
        weight = pd.to_numeric(frame[spec.weight_column], errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(np.isnan(weight))
        if bad.size:
            raise DataError(f"{path}: row {int(frame.index[bad[0]]) + 1}: weight "
                            f"{frame[spec.weight_column].iloc[bad[0]]!r} is not a number")
    return src, dst, weight, len(frame)


def build_kg(spec: KGSpec, spec_path: str | os.PathLike | None = None,
             data_dir: str | os.PathLike | None = None) -> KnowledgeGraph:
    """Read every node and edge source of ``spec``; drop and count dangling ids, duplicates and self-loops."""
    ids: dict[str, dict[str, str]] = {}
    node_report: list[dict] = []
    sources: dict[str, str] = {}
    for node_spec in spec.nodes:
        path = resolve_spec_path(node_spec.file, spec_path, data_dir)
        sources[node_spec.file] = sha256_of(path)
        node_report.append(_add_nodes(node_spec, path, ids))
    index = {kind: {node: i for i, node in enumerate(table)} for kind, table in ids.items()}

    collected: dict[EdgeType, dict] = {}
    report: list[dict] = []
    for edge_spec in spec.edges:
        path = resolve_spec_path(edge_spec.file, spec_path, data_dir)
        sources[edge_spec.file] = sha256_of(path)
        for end in (edge_spec.source, edge_spec.target):
            if end.kind not in index:
                raise DataError(f"{edge_spec.file}: node kind {end.kind!r} has no node table; kinds are "
                                f"{sorted(index)}")
        src, dst, weight, rows = _edge_rows(edge_spec, path, spec_path, data_dir)
        src_map, dst_map = index[edge_spec.source.kind], index[edge_spec.target.kind]
        s = np.fromiter((src_map.get(x, -1) for x in src), np.int64, len(src))
        t = np.fromiter((dst_map.get(x, -1) for x in dst), np.int64, len(dst))
        dangling_s, dangling_t = s < 0, t < 0
        keep = ~(dangling_s | dangling_t)
        same_kind = edge_spec.source.kind == edge_spec.target.kind
        loops = keep & (s == t) & same_kind if not edge_spec.keep_self_loops else np.zeros(len(s), bool)
        keep &= ~loops
        edge_type = (edge_spec.source.kind, edge_spec.relation, edge_spec.target.kind)
        entry = collected.setdefault(edge_type, {"s": [], "t": [], "w": [], "directed": edge_spec.directed,
                                                 "abbreviation": edge_spec.abbreviation,
                                                 "weighted": weight is not None})
        entry["s"].append(s[keep])
        entry["t"].append(t[keep])
        entry["w"].append(weight[keep] if weight is not None else np.ones(int(keep.sum())))
        report.append({
            "file": edge_spec.file, "edge_type": edge_key(edge_type), "abbreviation": edge_spec.abbreviation,
            "rows": rows, "read": int(len(s)), "kept_before_dedup": int(keep.sum()),
            "dangling_source": int(dangling_s.sum()), "dangling_target": int(dangling_t.sum()),
            "dangling_examples": sorted({str(x) for x in src[dangling_s][:EXAMPLES]}
                                        | {str(x) for x in dst[dangling_t][:EXAMPLES]}),
            "self_loops": int(loops.sum()),
        })

    edges: dict[EdgeType, EdgeSet] = {}
    for edge_type, entry in collected.items():
        s, t, w = (np.concatenate(entry[k]) for k in ("s", "t", "w"))
        # an undirected edge between two nodes of one kind is the same fact in either direction; the first
        # occurrence is kept as stored
        symmetric = not entry["directed"] and edge_type[0] == edge_type[2]
        a, b = (np.minimum(s, t), np.maximum(s, t)) if symmetric else (s, t)
        key = a * (max(len(ids[edge_type[2]]), len(ids[edge_type[0]])) + 1) + b
        _, first = np.unique(key, return_index=True)
        first = np.sort(first)
        for item in report:
            if item["edge_type"] == edge_key(edge_type):
                item["duplicates_in_type"] = int(len(key) - len(first))
        if any(e.join for e in spec.edges if (e.source.kind, e.relation, e.target.kind) == edge_type):
            for item in report:
                if item["edge_type"] == edge_key(edge_type):
                    item["join"] = _coverage(edge_type, s[first], t[first], list(ids[edge_type[0]]),
                                             list(ids[edge_type[2]]))
        edges[edge_type] = EdgeSet(s[first], t[first], entry["directed"], entry["abbreviation"],
                                   w[first] if entry["weighted"] else None)
    node_ids = {kind: list(table) for kind, table in ids.items()}
    node_names = {kind: list(table.values()) for kind, table in ids.items()}
    structures: dict[str, list[str]] = {}
    structure_types: dict[str, str] = {}
    for table in spec.structures:
        path = resolve_spec_path(table.file, spec_path, data_dir)
        sources[table.file] = sha256_of(path)
        kind_of = "sequence" if table.sequence_column else "smiles"
        if structure_types.setdefault(table.kind, kind_of) != kind_of:
            raise DataError(f"{table.file}: {table.kind} nodes already have {structure_types[table.kind]} "
                            f"structures; one kind holds one sort")
        node_report.append(_add_structures(table, path, ids, structures))
    for similarity in spec.similarity:
        edge_type, edge_set, entry = _similarity_edges(similarity, structures, structure_types)
        if edge_type in edges:
            raise DataError(f"similarity: {edge_key(edge_type)} is already an edge type of the spec; choose another "
                            "relation name")
        edges[edge_type] = edge_set
        report.append(entry)
    return KnowledgeGraph(spec.name, node_ids, node_names, edges, report, sources, node_report, structures,
                          structure_types)


def _similarity_edges(spec: SimilaritySpec, structures: dict[str, list[str]],
                      structure_types: dict[str, str]) -> tuple[EdgeType, EdgeSet, dict]:
    """Top-k structure-similarity edges of one kind (undirected: a pair found from both ends is one edge)."""
    if spec.kind not in structures:
        raise DataError(f"similarity: {spec.kind} nodes have no structures (add a structures: table for them)")
    values = structures[spec.kind]
    if structure_types[spec.kind] == "smiles":
        from gnn_drug.chem import parse_smiles
        from gnn_drug.chem.similarity import morgan_fingerprint, tanimoto_neighbours

        fingerprints = [morgan_fingerprint(parse_smiles(v)) if v else None for v in values]
        i, j, sim = tanimoto_neighbours(fingerprints, spec.top_k, spec.min_similarity)
        method = "Tanimoto, Morgan radius 2 / 2048 bits"
    else:
        from gnn_drug.data.sequences import kmer_neighbours

        i, j, sim = kmer_neighbours(values, spec.kmer, spec.top_k, spec.min_similarity)
        method = f"cosine of {spec.kmer}-mer counts"
    a, b = np.minimum(i, j), np.maximum(i, j)
    _, first = np.unique(a * (len(values) + 1) + b, return_index=True)
    first = np.sort(first)
    edge_type = (spec.kind, spec.relation, spec.kind)
    entry = {"similarity": spec.kind, "edge_type": edge_key(edge_type), "method": method, "top_k": spec.top_k,
             "min_similarity": spec.min_similarity, "nodes_with_structure": int(sum(1 for v in values if v)),
             "edges": int(len(first)),
             "mean_similarity": float(sim[first].mean()) if len(first) else None}
    return edge_type, EdgeSet(a[first], b[first], False, None, sim[first]), entry


def _coverage(edge_type: EdgeType, source: np.ndarray, target: np.ndarray, source_ids: list[str],
              target_ids: list[str]) -> dict:
    """How many nodes of each end a joining edge type reaches, with examples of those it does not."""
    out = {}
    for side, index, node_ids in (("source", source, source_ids), ("target", target, target_ids)):
        reached = np.zeros(len(node_ids), dtype=bool)
        reached[index] = True
        out[side] = {"kind": edge_type[0] if side == "source" else edge_type[2], "reached": int(reached.sum()),
                     "of": len(node_ids), "not_reached_examples": [node_ids[i] for i in np.flatnonzero(~reached)[:10]]}
    return out


# ---- saving --------------------------------------------------------------------------------------------------
def save_kg(graph: KnowledgeGraph, out_dir: str | os.PathLike) -> Path:
    """Write the graph folder atomically: built in a temporary sibling folder, then renamed into place."""
    import torch
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (staging / "nodes").mkdir()
        for kind, node_ids in graph.node_ids.items():
            frame = pd.DataFrame({"index": range(len(node_ids)), "id": node_ids, "name": graph.node_names[kind]})
            if kind in graph.structures:
                frame["structure"] = graph.structures[kind]
            frame.to_csv(staging / "nodes" / f"{_file_name(kind)}.tsv", sep="\t", index=False)
        tensors = {}
        for edge_type, edges in graph.edges.items():
            tensors[f"{edge_key(edge_type)}|index"] = torch.from_numpy(np.stack([edges.source, edges.target]))
            if edges.weight is not None:
                tensors[f"{edge_key(edge_type)}|weight"] = torch.from_numpy(edges.weight.astype(np.float32))
        save_file(tensors, str(staging / EDGES_FILE))
        manifest = {
            "name": graph.name, "nodes": graph.node_counts(), "edges": graph.edge_counts(),
            "edge_types": [{"source": t[0], "relation": t[1], "target": t[2], "directed": e.directed,
                            "abbreviation": e.abbreviation, "edges": len(e), "weighted": e.weight is not None}
                           for t, e in graph.edges.items()],
            "node_files": {kind: f"nodes/{_file_name(kind)}.tsv" for kind in graph.node_ids},
            "sources": graph.sources, "report": graph.report, "node_report": graph.node_report,
            "structure_types": graph.structure_types,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _file_name(kind: str) -> str:
    return kind.replace(" ", "_").replace("/", "_")


def load_kg(path: str | os.PathLike) -> KnowledgeGraph:
    """Read a folder written by :func:`save_kg` (tensors from safetensors, ids from TSV)."""
    from safetensors.torch import load_file

    path = Path(path)
    if not (path / MANIFEST).is_file():
        raise DataError(f"{path}: not a knowledge-graph folder (no {MANIFEST}); build one with gnn-drug kg build")
    manifest = json.loads((path / MANIFEST).read_text())
    node_ids, node_names, structures = {}, {}, {}
    for kind, file in manifest["node_files"].items():
        frame = pd.read_csv(path / file, sep="\t", dtype=str, keep_default_na=False)
        node_ids[kind], node_names[kind] = frame["id"].tolist(), frame["name"].tolist()
        if "structure" in frame.columns:
            structures[kind] = frame["structure"].tolist()
    tensors = load_file(str(path / EDGES_FILE))
    edges = {}
    for item in manifest["edge_types"]:
        edge_type = (item["source"], item["relation"], item["target"])
        index = tensors[f"{edge_key(edge_type)}|index"].numpy()
        weight = tensors.get(f"{edge_key(edge_type)}|weight")
        edges[edge_type] = EdgeSet(index[0], index[1], item["directed"], item["abbreviation"],
                                   None if weight is None else weight.numpy())
    return KnowledgeGraph(manifest["name"], node_ids, node_names, edges, manifest["report"], manifest["sources"],
                          manifest.get("node_report", []), structures, manifest.get("structure_types", {}))
