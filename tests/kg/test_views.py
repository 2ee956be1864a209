import numpy as np
import pytest

from gnn_drug.errors import DataError
from gnn_drug.kg.build import EdgeSet, KnowledgeGraph
from gnn_drug.kg.views import component_sizes, degree_summary, metapath_counts, to_networkx


@pytest.fixture
def graph():
    """Two compounds, three genes, two diseases: c1 binds g1, g2; c2 binds g2; g1, g2 associate with d1 (stored
    Disease -> Gene, as Hetionet does); g3 is isolated from compounds and d2 from everything."""
    ids = {"Compound": ["c1", "c2"], "Gene": ["g1", "g2", "g3"], "Disease": ["d1", "d2"]}
    edges = {("Compound", "binds", "Gene"): EdgeSet(np.array([0, 0, 1]), np.array([0, 1, 1]), False),
             ("Disease", "associates", "Gene"): EdgeSet(np.array([0, 0]), np.array([0, 1]), False)}
    return KnowledgeGraph("toy", ids, {k: list(v) for k, v in ids.items()}, edges)


def test_metapath_counts_follow_edges_in_either_stored_direction(graph):
    path = ["Compound", "binds", "Gene", "associates", "Disease"]
    assert metapath_counts(graph, path, "c1", "d1") == 2  # c1-g1-d1 and c1-g2-d1
    assert metapath_counts(graph, path, "c2") == {"d1": 1}
    assert metapath_counts(graph, path, "c1", "d2") == 0
    with pytest.raises(DataError, match="not a Compound node"):
        metapath_counts(graph, path, "x")
    with pytest.raises(DataError, match="no edge type Gene–treats–Disease"):
        metapath_counts(graph, ["Compound", "binds", "Gene", "treats", "Disease"], "c1")


def test_components_degrees_and_networkx(graph):
    assert component_sizes(graph) == [5, 1, 1]  # {c1, c2, g1, g2, d1}, {g3}, {d2}
    binds = [r for r in degree_summary(graph) if r["edge_type"] == "Compound|binds|Gene"]
    assert binds[0]["max"] == 2 and binds[1]["nodes_with_edges"] == 2 and binds[1]["nodes_of_kind"] == 3
    g = to_networkx(graph)
    assert g.number_of_nodes() == 7 and g.number_of_edges() == 5
    assert g.has_edge(("Compound", "c1"), ("Gene", "g2"))
