"""Small helpers shared by the tests (pytest imports test modules with tests/ as their root)."""

from __future__ import annotations

import numpy as np


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between two uint8 images."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-12)))


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run ``nfc ARGS`` in-process: (exit code, stdout, stderr)."""
    from neuralcodec.cli.main import main

    try:
        code = main(list(args))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err
