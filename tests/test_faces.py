"""The shipped model on real test faces (../shared/data/faces/test; skipped when absent)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import psnr
from PIL import Image

import neuralcodec

pytestmark = pytest.mark.faces

# Bounds with margin around what face-hyperprior-v2 measures on these 8 faces
# (docs/models.md): lowest level 240 B at 25.6 dB, highest 1.16 bpp at 34.4 dB.
LOWEST_MAX_BYTES = 250
LOWEST_MIN_PSNR = 25.3
HIGHEST_MAX_BPP = 1.3
HIGHEST_MIN_PSNR = 34.0


def measure(files, quality: int) -> tuple[float, float]:
    """(mean bytes, mean PSNR in dB) over ``files`` at ``quality``."""
    sizes, scores = [], []
    for f in files:
        rgb = np.asarray(Image.open(f).convert("RGB"))
        data = neuralcodec.compress(rgb, quality=quality)
        sizes.append(len(data))
        scores.append(psnr(np.asarray(neuralcodec.decompress(data)), rgb))
    return float(np.mean(sizes)), float(np.mean(scores))


def test_lowest_quality_is_a_few_hundred_bytes(real_faces):
    size, score = measure(real_faces, quality=1)
    assert size < LOWEST_MAX_BYTES and score > LOWEST_MIN_PSNR


def test_highest_quality_is_faithful(real_faces):
    size, score = measure(real_faces, quality=neuralcodec.available_qualities()[-1])
    assert size * 8 / (128 * 128) < HIGHEST_MAX_BPP and score > HIGHEST_MIN_PSNR
