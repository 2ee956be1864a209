"""Tasks: thin recipes wiring data, models and training for one prediction problem each."""
