"""In-process latency of one 128x128 face (quality 6): encode and decode, 1 and 2 threads.

    python -m pytest bench/bench_latency.py --benchmark-columns=median,iqr,rounds \
        --benchmark-group-by=group --benchmark-sort=name

Medians over many rounds after warm-up. Where the time goes (per stage) and the MACs per pixel
of each transform: ``python bench/profile_stages.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import neuralcodec

FACE = Path(__file__).resolve().parent.parent / "docs" / "example" / "face.png"
QUALITY = 6


def face() -> np.ndarray:
    return np.asarray(Image.open(FACE).convert("RGB"))


@pytest.fixture(params=[1, 2], ids=lambda t: f"{t}threads")
def threads(request) -> Iterator[int]:
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


@pytest.mark.benchmark(group="decode-128x128", warmup=True, warmup_iterations=20)
def test_decode(benchmark, threads):
    data = neuralcodec.compress(face(), quality=QUALITY)
    assert benchmark(neuralcodec.decompress, data).size == (128, 128)


@pytest.mark.benchmark(group="encode-128x128", warmup=True, warmup_iterations=20)
def test_encode(benchmark, threads):
    rgb = face()
    assert benchmark(neuralcodec.compress, rgb, quality=QUALITY)[:3] == b"NFC"
