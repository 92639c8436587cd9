"""Shared fixtures: the bundled example face and the location of the real test faces."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_FACE = ROOT / "docs" / "example" / "face.png"
FACES_TEST = ROOT.parent / "shared" / "data" / "faces" / "test"


@pytest.fixture(scope="session")
def face() -> np.ndarray:
    """The bundled 128x128 example face (public domain), uint8 [128, 128, 3]."""
    return np.asarray(Image.open(EXAMPLE_FACE).convert("RGB"))


@pytest.fixture(scope="session")
def real_faces() -> list[Path]:
    """The first test faces of ../shared/data, or a skip when the data set is absent."""
    if not FACES_TEST.is_dir():
        pytest.skip(f"real face data not found at {FACES_TEST}")
    files = sorted(FACES_TEST.glob("*.png"))[:8]
    if not files:
        pytest.skip(f"no PNG faces in {FACES_TEST}")
    return files


@pytest.fixture
def face_png(tmp_path, face) -> Iterator[Path]:
    """The example face as a PNG file in the test's temporary folder; after the test, it must
    still be there, byte for byte (nfc never loses an original, whatever the command)."""
    p = tmp_path / "face.png"
    Image.fromarray(face).save(p)
    before = hashlib.sha256(p.read_bytes()).hexdigest()
    yield p
    assert p.is_file() and hashlib.sha256(p.read_bytes()).hexdigest() == before, "face.png was changed"
