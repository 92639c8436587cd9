"""Per-image encode/decode speed of nfc next to Pillow's codecs, same image, same run.

    python -m pytest bench/bench_codec.py --benchmark-columns=median,iqr,rounds \
        --benchmark-group-by=group --benchmark-sort=name

Medians over many rounds after warm-up (pytest-benchmark calibrates the rounds); compare
the rows of one group, measured side by side, as ratios.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import neuralcodec

FACE = Path(__file__).resolve().parent.parent / "docs" / "example" / "face.png"


@pytest.fixture(scope="module")
def face() -> Image.Image:
    return Image.open(FACE).convert("RGB")


def pillow_bytes(img: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **params)
    return buf.getvalue()


def decode_pillow(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


LEVELS = neuralcodec.available_qualities()
QUALITIES = (LEVELS[0], LEVELS[-1])
PILLOW = {
    "jpeg": ("JPEG", {"quality": 75}),
    "webp": ("WEBP", {"quality": 75}),
    "avif": ("AVIF", {"quality": 60}),
}


@pytest.mark.benchmark(group="decode-128x128", warmup=True, warmup_iterations=5)
@pytest.mark.parametrize("quality", QUALITIES)
def test_decode_nfc(benchmark, face, quality):
    data = neuralcodec.compress(face, quality=quality)
    img = benchmark(neuralcodec.decompress, data)
    assert img.size == face.size


@pytest.mark.benchmark(group="decode-128x128", warmup=True, warmup_iterations=5)
@pytest.mark.parametrize("codec", sorted(PILLOW))
def test_decode_pillow(benchmark, face, codec):
    fmt, params = PILLOW[codec]
    arr = benchmark(decode_pillow, pillow_bytes(face, fmt, **params))
    assert arr.shape == (128, 128, 3)


@pytest.mark.benchmark(group="encode-128x128", warmup=True, warmup_iterations=5)
@pytest.mark.parametrize("quality", QUALITIES)
def test_encode_nfc(benchmark, face, quality):
    data = benchmark(neuralcodec.compress, face, quality=quality)
    assert data[:3] == b"NFC"


@pytest.mark.benchmark(group="encode-128x128", warmup=True, warmup_iterations=5)
@pytest.mark.parametrize("codec", sorted(PILLOW))
def test_encode_pillow(benchmark, face, codec):
    fmt, params = PILLOW[codec]
    assert benchmark(pillow_bytes, face, fmt, **params)
