"""Training: metrics, masked losses, checkpoints and the shared trainer."""
