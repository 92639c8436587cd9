"""The .nfc Pillow plugin: Image.open / load / save after ``import neuralcodec``."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, UnidentifiedImageError

import neuralcodec
from neuralcodec.errors import InvalidOption, NfcError


@pytest.fixture(scope="module")
def nfc_bytes(face) -> bytes:
    return neuralcodec.compress(face, quality=3)


def test_the_format_is_registered():
    assert Image.registered_extensions()[".nfc"] == "NFC"
    assert Image.MIME["NFC"] == "image/x-nfc"
    assert "NFC" in Image.SAVE and "NFC" in Image.OPEN


def test_open_reads_the_header_and_load_decodes(nfc_bytes, tmp_path):
    path = tmp_path / "face.nfc"
    path.write_bytes(nfc_bytes)
    with Image.open(path) as img:
        assert (img.format, img.mode, img.size) == ("NFC", "RGB", (128, 128))
        assert img.get_format_mimetype() == "image/x-nfc"
        np.testing.assert_array_equal(np.asarray(img), np.asarray(neuralcodec.decompress(nfc_bytes)))


def test_opening_needs_no_torch(nfc_bytes, tmp_path):
    path = tmp_path / "face.nfc"
    path.write_bytes(nfc_bytes)
    code = (
        "import sys, neuralcodec; from PIL import Image; img = Image.open(sys.argv[1]); "
        "assert img.size == (128, 128); assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)


def test_save_writes_the_file_compress_writes(face, tmp_path):
    img = Image.fromarray(face)
    img.save(tmp_path / "q3.nfc", quality=3)
    assert (tmp_path / "q3.nfc").read_bytes() == neuralcodec.compress(face, quality=3)
    img.save(tmp_path / "roi.nfc", quality=4, roi=(32, 24, 64, 80))
    assert (tmp_path / "roi.nfc").read_bytes() == neuralcodec.compress(face, quality=4, roi=(32, 24, 64, 80))
    buf = io.BytesIO()
    img.save(buf, format="NFC")
    assert buf.getvalue() == neuralcodec.compress(face)
    with Image.open(tmp_path / "q3.nfc") as back:
        assert back.size == img.size and neuralcodec.inspect((tmp_path / "q3.nfc").read_bytes()).quality == 3


def test_save_roi_auto(face, tmp_path):
    Image.fromarray(face).save(tmp_path / "auto.nfc", roi="auto")
    assert neuralcodec.inspect((tmp_path / "auto.nfc").read_bytes()).roi_cells is not None


def test_save_refuses_options_it_does_not_know(face, tmp_path):
    with pytest.raises(InvalidOption, match="optimize"):
        Image.fromarray(face).save(tmp_path / "x.nfc", optimize=True)
    with pytest.raises(InvalidOption, match="quality"):
        Image.fromarray(face).save(tmp_path / "x.nfc", quality=99)


def test_every_truncation_raises_an_nfc_error(nfc_bytes):
    """From Image.open where the header is cut, from load() where the rest is."""
    from_load = 0
    for n in range(len("NFC"), len(nfc_bytes)):
        try:
            img = Image.open(io.BytesIO(nfc_bytes[:n]))
        except NfcError:
            continue
        from_load += 1
        with pytest.raises(NfcError):
            img.load()
    assert from_load > len(nfc_bytes) // 2


def test_bit_flips_raise_an_nfc_error_from_load(nfc_bytes):
    for i in range(len(nfc_bytes)):
        damaged = bytearray(nfc_bytes)
        damaged[i] ^= 0x10
        try:
            img = Image.open(io.BytesIO(bytes(damaged)))
        except UnidentifiedImageError:
            assert i < 3  # the magic
            continue
        except NfcError:
            continue
        with pytest.raises(NfcError):
            img.load()


def test_other_files_are_not_taken(face):
    buf = io.BytesIO()
    Image.fromarray(face).save(buf, format="PNG")
    assert Image.open(io.BytesIO(buf.getvalue())).format == "PNG"
    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(b"NFX" + bytes(40)))
