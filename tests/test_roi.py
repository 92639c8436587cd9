"""Face-aware bit allocation: ROI encode, header, decode, and bad ROIs."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from helpers import needs_extra, psnr

import neuralcodec
from neuralcodec import faces, roi
from neuralcodec.container import NfcFile, RoiBlock, pack, unpack
from neuralcodec.errors import CorruptBitstream, CorruptHeader, NfcError

GREY = np.full((128, 128, 3), 128, dtype=np.uint8)
FACE_BOX = (32, 32, 64, 80)


@pytest.fixture(scope="module")
def roi_file(face) -> bytes:
    return neuralcodec.compress(face, quality=3, roi=FACE_BOX)


def _repack(f: NfcFile, **changes) -> bytes:
    return pack(NfcFile(**{**f.__dict__, **changes}))


def test_roi_file_records_the_rectangle_in_latent_cells(roi_file):
    f = unpack(roi_file)
    assert (f.roi.left, f.roi.top, f.roi.width, f.roi.height) == (2, 2, 4, 5)
    # The boost is the default unless the background cannot pay for it within the size tolerance.
    assert (
        0 < f.roi.inside_quarter_steps <= roi.ROI_DEFAULT_BOOST_LEVELS * 4 and f.roi.outside_quarter_steps < 0
    )
    info = neuralcodec.inspect(roi_file)
    assert (
        info.roi_pixels == (32, 32, 64, 80) and info.roi_inside_level_offset == f.roi.inside_quarter_steps / 4
    )


def test_roi_keeps_the_size_and_favours_the_face(face, roi_file):
    plain = neuralcodec.compress(face, quality=3)
    assert abs(len(roi_file) / len(plain) - 1) < 0.05
    assert (
        len(roi_file) <= len(plain) * (1 + roi.ROI_SIZE_TOLERANCE)
        or unpack(roi_file).roi.inside_quarter_steps == 1
    )
    x, y, w, h = FACE_BOX
    inside = np.zeros(face.shape[:2], bool)
    inside[y : y + h, x : x + w] = True
    a, b = np.asarray(neuralcodec.decompress(plain)), np.asarray(neuralcodec.decompress(roi_file))
    assert psnr(b[inside], face[inside]) > psnr(a[inside], face[inside]) + 0.5
    assert psnr(b[~inside], face[~inside]) < psnr(a[~inside], face[~inside])


def test_roi_encoding_and_decoding_are_deterministic(face, roi_file):
    assert neuralcodec.compress(face, quality=3, roi=FACE_BOX) == roi_file
    a, b = neuralcodec.decompress(roi_file), neuralcodec.decompress(roi_file)
    assert np.array_equal(np.asarray(a), np.asarray(b))


def test_decoder_rebuilds_the_encoders_latent(face):
    """The decoder's y_hat, from the header's region alone, equals the encoder's."""
    import torch

    from neuralcodec.models.registry import load_model

    net = load_model("cvae")
    x = torch.from_numpy(face.copy()).permute(2, 0, 1)[None].float() / 255
    analysed = net.analyse(x, 4)
    region = roi.level_region((1, 2, 5, 4), 4, 6, -5)
    encoded = net.code_latent(analysed, region)
    ratio, inverse = net._region_maps(torch.tensor([4]), region, (8, 8))
    expected_y = (
        torch.round(analysed.y_scaled.double() * ratio - analysed.mean * ratio) + analysed.mean * ratio
    )
    expected = net.synthesis.infer(expected_y.float() * inverse).clamp(0, 1)
    assert torch.equal(net.decompress(encoded, 4, region), expected)
    try:  # without the region the decoder reads the stream with other tables
        assert not torch.equal(net.decompress(encoded, 4, None), expected)
    except CorruptBitstream:
        pass


def test_decoding_a_roi_file_is_identical_with_one_or_two_threads(roi_file, tmp_path):
    (tmp_path / "f.nfc").write_bytes(roi_file)
    script = (
        "import sys, hashlib, torch, numpy, neuralcodec; torch.set_num_threads(int(sys.argv[1]));"
        "img = neuralcodec.decompress(open(sys.argv[2], 'rb').read());"
        "print(hashlib.sha256(numpy.asarray(img).tobytes()).hexdigest())"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", script, str(n), str(tmp_path / "f.nfc")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for n in (1, 2)
    }
    assert len(outs) == 1


def test_explicit_levels_are_stored(face):
    data = neuralcodec.compress(face, quality=5, roi="16,16,64,64", roi_levels=(1.5, -0.75))
    f = unpack(data)
    assert f.roi == RoiBlock(1, 1, 4, 4, inside_quarter_steps=6, outside_quarter_steps=-3)
    info = neuralcodec.inspect(data)
    assert (info.roi_inside_level_offset, info.roi_outside_level_offset) == (1.5, -0.75)
    assert neuralcodec.decompress(data).size == (128, 128)


@needs_extra("roi")
def test_auto_roi_uses_the_face_ellipse(face):
    data = neuralcodec.compress(face, quality=4, roi="auto")
    box = faces.detect_face(face)
    bounds = faces.face_ellipse_bounds(box, face.shape[:2])
    assert unpack(data).roi is not None
    assert data == neuralcodec.compress(face, quality=4, roi=bounds)


@needs_extra("roi")
def test_auto_roi_without_a_face_warns_and_codes_without_roi():
    with pytest.warns(UserWarning, match="no face found"):
        data = neuralcodec.compress(GREY, quality=2, roi="auto")
    assert unpack(data).roi is None and data == neuralcodec.compress(GREY, quality=2)


def test_roi_on_odd_sizes(face):
    rgb = np.ascontiguousarray(np.resize(face, (97, 131, 3)))
    data = neuralcodec.compress(rgb, quality=3, roi=(120, 90, 11, 7))
    f = unpack(data)
    assert f.roi.left + f.roi.width <= 12 and f.roi.top + f.roi.height <= 8
    assert neuralcodec.decompress(data).size == (131, 97)


@pytest.mark.parametrize(
    "roi",
    [
        (-1, 0, 10, 10),
        (0, 0, 0, 10),
        (0, 0, 10, 0),
        (100, 100, 40, 10),
        (0, 0, 129, 1),
        (1.5, 0, 10, 10),
        (True, 0, 10, 10),
        (1, 2, 3),
        "1,2,3",
        "a,b,c,d",
        "1,2,3,4,5",
        "-1,0,4,4",
        "",
        "face",
        7,
    ],
)
def test_invalid_roi_is_a_value_error(face, roi):
    with pytest.raises(ValueError, match="ROI"):
        neuralcodec.compress(face, quality=3, roi=roi)


@pytest.mark.parametrize("levels", [(0.3, -1), (1, "x"), (40, -1), (1, -40), (1,), "1,2", (float("nan"), 0)])
def test_invalid_roi_levels_are_value_errors(face, levels):
    with pytest.raises(ValueError):
        neuralcodec.compress(face, quality=3, roi=FACE_BOX, roi_levels=levels)


def test_roi_levels_without_roi(face):
    with pytest.raises(ValueError, match="needs an roi"):
        neuralcodec.compress(face, quality=3, roi_levels=(1, -1))


@pytest.mark.parametrize(
    "block",
    [
        RoiBlock(7, 0, 2, 1, 0, 0),
        RoiBlock(0, 8, 1, 1, 0, 0),
        RoiBlock(0, 0, 1, 1, 127, 0),
        RoiBlock(0, 0, 1, 1, 0, -128),
    ],
)
def test_roi_block_the_model_cannot_use_is_corrupt(roi_file, block):
    with pytest.raises(CorruptHeader, match="ROI"):
        neuralcodec.decompress(_repack(unpack(roi_file), roi=block))


def test_every_truncation_and_bit_flip_of_a_roi_file_raises(roi_file):
    for n in range(len(roi_file)):
        with pytest.raises(NfcError):
            neuralcodec.decompress(roi_file[:n])
    for i in range(len(roi_file) * 8):
        flipped = bytearray(roi_file)
        flipped[i // 8] ^= 1 << (i % 8)
        with pytest.raises(NfcError):
            neuralcodec.decompress(bytes(flipped))


def test_parse_roi():
    assert roi.parse_roi("auto") == "auto"
    assert roi.parse_roi(" 1, 2,3 ,4 ") == (1, 2, 3, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for bad in ("1,2,3", "1;2;3;4", "auto,1"):
            with pytest.raises(ValueError, match="x,y,w,h"):
                roi.parse_roi(bad)


@needs_extra("bench")
def test_eval_roi_tool_reports_plain_and_roi_at_equal_size(tmp_path):
    """tools/eval_roi.py end to end on the bundled face: one table row per variant."""
    import json
    import shutil
    from pathlib import Path

    from tools import eval_roi

    root = Path(__file__).resolve().parent.parent

    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(root / "docs" / "example" / "face.png", data / "face.png")
    out = tmp_path / "out"
    assert (
        eval_roi.main(
            [
                str(data),
                "-o",
                str(out),
                "--qualities",
                "3",
                "--masks",
                str(tmp_path / "masks"),
                "--nice",
                "0",
                "--threads",
                "1",
            ]
        )
        == 0
    )
    summary = {row["variant"]: row for row in json.loads((out / "results.json").read_text())["summary"]}
    assert set(summary) == {"plain", "roi+2"}
    assert abs(summary["roi+2"]["bytes_vs_plain"]) <= 0.03
    assert summary["roi+2"]["face_psnr"] > summary["plain"]["face_psnr"]
    section = (out / "summary.md").read_text()
    assert section.startswith("## ") and "python -m tools.eval_roi " in section
    assert "- Machine: " in section and "| 3 | roi+2 |" in section


def test_auto_roi_ignores_a_weak_detection(face, monkeypatch):
    """roi="auto" warns and codes without ROI where the only box has too few neighbours."""
    box = faces.detect_face(face)
    monkeypatch.setattr(faces, "detections", lambda image: [(box, faces.MIN_CONFIDENT_NEIGHBORS - 1)])
    with pytest.warns(UserWarning, match="no face found"):
        data = neuralcodec.compress(face, quality=2, roi="auto")
    assert unpack(data).roi is None and data == neuralcodec.compress(face, quality=2)
