"""Packaging: one list of build requirements, one version, and optional extras that say their name.

The wheel and sdist themselves are built and installed by .ci/wheel-smoke (too slow for a unit
test: it compiles the extension).
"""

from __future__ import annotations

import importlib.metadata
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import tomllib
from helpers import EXTRA_MODULES
from helpers import run_cli as run

import neuralcodec
from neuralcodec import faces
from neuralcodec.errors import MissingDependency, NfcError

ROOT = Path(__file__).resolve().parent.parent


def pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def test_requirements_txt_is_the_build_requirements():
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    listed = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    assert listed and sorted(listed) == sorted(pyproject()["build-system"]["requires"])


def test_the_version_is_written_once():
    meta = pyproject()
    assert "version" not in meta["project"] and "version" in meta["project"]["dynamic"]
    assert meta["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "neuralcodec.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]\d+|rc\d+)?(\.post\d+)?(\.dev\d+)?", neuralcodec.__version__)
    try:
        installed = importlib.metadata.version("neuralcodec")
    except importlib.metadata.PackageNotFoundError:
        return
    assert installed == neuralcodec.__version__


def test_the_runtime_needs_no_extra():
    required = pyproject()["project"]["dependencies"]
    names = {re.split(r"[<>=!~;\[ ]", d, maxsplit=1)[0].lower() for d in required}
    assert names == {"torch", "numpy", "pillow", "tqdm"}
    numpy_req = next(d for d in required if d.startswith("numpy"))
    assert "<" not in numpy_req  # numpy 2 is supported (and tested: .ci/numpy2)


def test_the_extras_the_tests_know_are_declared():
    assert set(EXTRA_MODULES) <= set(pyproject()["project"]["optional-dependencies"])


@pytest.fixture
def no_opencv(monkeypatch):
    """An interpreter where ``import cv2`` fails, as without the roi extra."""
    monkeypatch.setitem(sys.modules, "cv2", None)
    faces._cascade.cache_clear()
    yield
    faces._cascade.cache_clear()


def test_face_detection_without_opencv_names_the_extra(no_opencv):
    with pytest.raises(MissingDependency, match=re.escape("pip install 'neuralcodec[roi]'")) as info:
        faces.detect_face(np.zeros((64, 64, 3), np.uint8))
    assert isinstance(info.value, NfcError) and isinstance(info.value, ImportError)


def test_roi_auto_without_opencv_is_a_one_line_error(no_opencv, capsys, face_png, tmp_path):
    code, _, err = run(capsys, "encode", str(face_png), "-o", str(tmp_path / "f.nfc"), "--roi", "auto")
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and "neuralcodec[roi]" in lines[0]
    assert not (tmp_path / "f.nfc").exists()


def test_a_given_roi_needs_no_opencv(no_opencv, face):
    data = neuralcodec.compress(face, quality=3, roi=(32, 32, 64, 64))
    assert neuralcodec.decompress(data).size == (128, 128)
