"""Cross-setting determinism (tools/determinism.py): encode under one CPU kernel set, thread count
or oneDNN setting, decode under another; bytes must be identical, pixels identical or within
determinism.PIXEL_TOLERANCE (float32 synthesis under other kernels)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tools import determinism


def _report(comparisons) -> str:
    return "; ".join(
        f"{c.setting.name}: bytes {c.byte_mismatches}, pixels {c.pixel_mismatches}, "
        f"within tolerance {c.pixels_within_tolerance}"
        for c in comparisons
    )


def test_settings_cover_kernels_threads_and_onednn():
    rows = determinism.settings("AVX512")
    assert {r.capability for r in rows} == {None, "default", "avx2"}
    assert {r.threads for r in rows} == {1, 2} and {r.onednn for r in rows} == {True, False}


def test_generated_images_decode_identically_across_settings(face, tmp_path):
    rng = np.random.default_rng(0)
    images = []
    for k, (h, w) in enumerate([(128, 128), (97, 131), (40, 200)]):
        rgb = np.clip(np.resize(face, (h, w, 3)).astype(int) + rng.integers(-30, 31, (h, w, 3)), 0, 255)
        path = tmp_path / f"img{k}.png"
        Image.fromarray(rgb.astype(np.uint8)).save(path)
        images.append(path)
    comparisons = determinism.compare(images, tmp_path / "work")
    assert len(comparisons) >= 4
    # The decoded pixels really are compared: a setting's own decode of the same bytes.
    assert {c.images for c in comparisons} == {len(images)}
    assert all(not c.byte_mismatches and not c.pixel_mismatches for c in comparisons), _report(comparisons)


@pytest.mark.slow
@pytest.mark.faces
def test_all_test_faces_decode_identically_across_settings(tmp_path):
    from conftest import FACES_TEST

    images = sorted(FACES_TEST.glob("*.png"))
    if not images:
        pytest.skip(f"real face data not found at {FACES_TEST}")
    comparisons = determinism.compare(images, tmp_path)
    assert all(not c.byte_mismatches and not c.pixel_mismatches for c in comparisons), _report(comparisons)
