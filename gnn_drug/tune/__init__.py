"""Hyperparameter search with Optuna over the search space declared in a task config."""
