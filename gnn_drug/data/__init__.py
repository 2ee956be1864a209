"""Data layer: dataset registry, table readers, featurisation with cache, splits, tensors and batches."""
