"""Scheduled retraining: validate new data, train a challenger, promote it only if it beats the champion."""
