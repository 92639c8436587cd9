"""Shipped trained weights (see docs/models.md for the model cards)."""
