"""gnn-drug: graph neural networks for drug discovery."""

__version__ = "0.1.0"
