"""Screening: stream a library through trained models, rank it, and report the best candidates."""
