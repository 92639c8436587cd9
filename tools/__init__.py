"""Training, export and evaluation tools of a neuralcodec checkout; run them as modules
(``python -m tools.train ...``) from the repository root."""
