"""Heterogeneous knowledge graphs: declared in YAML, built into PyG HeteroData, viewed with networkx."""
