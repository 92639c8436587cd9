"""Golden files: .nfc files written by earlier versions decode to the same pixels, and the same
sources still encode to the same bytes (tests/golden/, written by ``python -m tools.make_golden``).

A failure here means a change altered the bitstream or the decoded pixels of a shipped model
id. That is a format break: give the change a new model id (and golden files for it) instead
of regenerating these.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import neuralcodec
from neuralcodec.container.spec import SUPPORTED_VERSIONS
from neuralcodec.models.catalog import MODELS
from tools import make_golden

GOLDEN = Path(__file__).resolve().parent / "golden"
MANIFESTS = {
    p.parent.name: json.loads(p.read_text()) for p in sorted(GOLDEN.glob(f"*/{make_golden.MANIFEST}"))
}
SHIPPED = {s.model_id for s in MODELS}
CASES = [
    pytest.param(model_id, case, id=f"{model_id}/{case['name']}")
    for model_id, manifest in MANIFESTS.items()
    if model_id in SHIPPED and manifest["format_version"] in SUPPORTED_VERSIONS
    for case in manifest["cases"]
]


def test_every_shipped_model_has_golden_files():
    missing = sorted(SHIPPED - set(MANIFESTS))
    assert not missing, f"no golden files for {missing}: run python -m tools.make_golden"


def test_sources_are_the_ones_the_files_were_made_from():
    for manifest in MANIFESTS.values():
        assert manifest["example_face_sha256"] == make_golden.face_sha256(), "docs/example/face.png changed"


# Float32 synthesis on other CPU kernels moves about 1 value in 20,000 by 1 (tools/make_golden.py).
MAX_PIXEL_DIFFERENCE = 1
MAX_SHARE_DIFFERENT = 0.001


@pytest.mark.parametrize("model_id,case", CASES)
def test_golden_file_decodes_to_the_same_pixels(model_id, case):
    data = (GOLDEN / model_id / f"{case['name']}.nfc").read_bytes()
    assert hashlib.sha256(data).hexdigest() == case["nfc_sha256"]
    assert neuralcodec.inspect(data).model_id == model_id
    for decoder in case["pixels_sha256"]:
        reference_png = make_golden.reference_path(GOLDEN / model_id, case["name"], decoder)
        reference = np.asarray(Image.open(reference_png))
        pixels = make_golden.decoded(data, None if decoder == "file" else decoder)
        assert pixels.shape == reference.shape, decoder
        difference = np.abs(pixels.astype(np.int16) - reference.astype(np.int16))
        assert difference.max() <= MAX_PIXEL_DIFFERENCE, decoder
        assert np.mean(difference > 0) <= MAX_SHARE_DIFFERENT, decoder


@pytest.mark.parametrize("model_id,case", CASES)
def test_source_encodes_to_the_same_bytes(model_id, case):
    encoded = make_golden.encode(make_golden.Case(case["name"], case["source"], case["options"]))
    assert hashlib.sha256(encoded).hexdigest() == case["nfc_sha256"]
