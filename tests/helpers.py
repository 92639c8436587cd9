"""Small helpers shared by the tests (pytest imports test modules with tests/ as their root)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

#: The modules each pip extra of pyproject.toml brings that tests import (import names, not
#: package names). A test that needs an extra skips, naming it, where the extra is not
#: installed: the numpy 2 leg of CI (.ci/numpy2) runs without CompressAI, which pins numpy < 2.
EXTRA_MODULES = {
    "roi": ("cv2",),
    "bench": ("cv2", "compressai", "tqdm", "piq", "bjontegaard", "scipy", "matplotlib"),
    "train": ("cv2", "compressai", "tqdm"),
    "identity": ("dlib", "face_recognition_models"),
}


def missing_extra(extra: str) -> str | None:
    """Why tests of ``extra`` cannot run here (its first module that is not installed), or None."""
    for name in EXTRA_MODULES[extra]:
        if importlib.util.find_spec(name) is None:
            return f"needs the {extra} extra ({name} is not installed): pip install 'neuralcodec[{extra}]'"
    return None


def needs_extra(extra: str) -> pytest.MarkDecorator:
    """A mark that skips the test where ``extra`` is not installed."""
    reason = missing_extra(extra)
    return pytest.mark.skipif(reason is not None, reason=reason or "")


def skip_module_without(extra: str) -> None:
    """Skip the calling test module where ``extra`` is not installed (call before its imports)."""
    reason = missing_extra(extra)
    if reason is not None:
        pytest.skip(reason, allow_module_level=True)


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
