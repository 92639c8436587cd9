"""The face-identity metric: its summaries on made-up measurements, and dlib's network on the
bundled example face."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import needs_extra, skip_module_without
from PIL import Image

skip_module_without("bench")

from neuralcodec.bench import identity
from neuralcodec.bench.identity import IdentityMeasurement, QualityRow, at_bpp, summarise

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "example" / "face.png"


def _m(codec: str, quality: int, bpp: float, distance: float, image: str = "a") -> IdentityMeasurement:
    return IdentityMeasurement(image, codec, quality, bpp, 30.0, distance)


def test_summary_counts_matches_below_the_threshold_per_codec_and_quality():
    rows = summarise(
        [
            _m("x", 2, 1.0, 0.2, "a"),
            _m("x", 2, 3.0, 0.7, "b"),
            _m("x", 1, 0.5, 0.9, "a"),
            _m("y", 1, 0.4, 0.59, "a"),
        ]
    )
    assert [(r.codec, r.quality) for r in rows] == [("x", 1), ("x", 2), ("y", 1)]
    assert rows[1] == QualityRow("x", 2, 2, 2.0, 30.0, 0.5, pytest.approx(0.45))
    assert rows[0].matched == 0.0 and rows[2].matched == 1.0


def test_at_bpp_interpolates_in_log_rate_and_refuses_outside_the_range():
    rows = [QualityRow("x", 1, 1, 0.5, 30, 0.0, 0.8), QualityRow("x", 2, 1, 2.0, 35, 1.0, 0.2)]
    matched, distance = at_bpp(rows, "x", 1.0)  # halfway in log2: 0.5 -> 1 -> 2
    assert matched == pytest.approx(0.5) and distance == pytest.approx(0.5)
    assert at_bpp(rows, "x", 2.0) == pytest.approx((1.0, 0.2))
    assert at_bpp(rows, "x", 0.25) is None and at_bpp(rows, "x", 4.0) is None
    assert at_bpp(rows, "other", 1.0) is None


class _Jpeg:
    """A two-quality JPEG codec for the runner."""

    name = "jpeg-test"
    qualities = (2, 95)
    settings: dict[str, object] = {}

    def encode(self, img: Image.Image, quality: int) -> bytes:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=quality)
        return buf.getvalue()

    def decode(self, data: bytes) -> Image.Image:
        return Image.open(io.BytesIO(data)).convert("RGB")


@needs_extra("identity")
def test_the_example_face_keeps_its_identity_at_high_quality_and_a_blank_image_is_left_out(tmp_path):
    embedder = identity.FaceEmbedder()
    face = np.asarray(Image.open(EXAMPLE).convert("RGB"))
    box = embedder.find_face(face)
    assert box is not None
    assert np.linalg.norm(embedder.embed(face, box) - embedder.embed(face.copy(), box)) == 0.0
    assert embedder.find_face(np.full((128, 128, 3), 128, np.uint8)) is None

    data = tmp_path / "data"
    data.mkdir()
    Image.open(EXAMPLE).save(data / "face.png")
    Image.new("RGB", (128, 128), (128, 128, 128)).save(data / "blank.png")
    rows = identity.run(sorted(data.iterdir()), [_Jpeg()], tmp_path / "out", embedder=embedder)

    by_quality = {r.quality: r for r in rows}
    assert set(by_quality) == {2, 95} and all(r.images == 1 for r in rows)
    assert by_quality[95].matched == 1.0 and by_quality[95].distance < 0.2
    assert by_quality[2].distance > by_quality[95].distance
    lines = [json.loads(line) for line in (tmp_path / "out" / identity.RESULTS_FILE).read_text().splitlines()]
    assert [line["image"] for line in lines] == ["face.png", "face.png"]
    summary = (tmp_path / "out" / identity.SUMMARY_FILE).read_text()
    assert "Images without a detected face, left out: 1." in summary
    assert "| jpeg-test | 95 | 1 |" in summary
