"""Hostile images and inputs at the encoder (issue 11 #5, issue 13 #6): each gives a named
error or a documented result, and none hangs. One test per row of the table in
docs/format.md ("Hostile inputs"); multi-frame files are in test_imaging.py.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, PngImagePlugin

import neuralcodec
from neuralcodec.errors import InvalidImage, LimitExceeded
from neuralcodec.files import MAX_INPUT_BYTES
from neuralcodec.imaging import load_rgb

NFC = [sys.executable, "-m", "neuralcodec.cli.main"]
HANG_SECONDS = 300  # a start of python + torch on a loaded machine, far below "forever"


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width: int, height: int, before_idat: bytes = b"", after_idat: bytes = b"") -> bytes:
    """A valid black RGB PNG, with extra chunks before and after its image data."""
    rows = b"".join(b"\x00" + bytes(3 * width) for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + before_idat
        + chunk(b"IDAT", zlib.compress(rows))
        + after_idat
        + chunk(b"IEND", b"")
    )


def header_only_png(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height over 16 bytes of image data (a bomb's shape)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(bytes(16)))
        + chunk(b"IEND", b"")
    )


#: 64 MiB of zeros, deflated to about 64 KB: a zlib bomb for a metadata chunk.
ZLIB_BOMB = zlib.compress(bytes(64 << 20), 9)


@pytest.fixture
def no_pixel_decoding(monkeypatch):
    """Fail the test if any image's pixels are decoded."""

    def load(self):
        raise AssertionError("pixels decoded: the cap was not applied from the header")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


# --- decompression bombs ------------------------------------------------------------


@pytest.mark.parametrize("size", [(6000, 6000), (1 << 20, 64), (60000, 60000)])
def test_a_bomb_is_refused_from_its_header_before_any_pixel_is_decoded(no_pixel_decoding, size):
    """6000^2 is over the codec's cap and under Pillow's; 60000^2 is over both."""
    with pytest.raises(LimitExceeded, match="cap"):
        load_rgb(header_only_png(*size))


def test_the_cap_holds_when_the_application_turned_pillows_off(no_pixel_decoding, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with pytest.raises(LimitExceeded, match="33554432-pixel cap"):
        load_rgb(header_only_png(6000, 6000))


def test_a_lower_pillow_cap_set_by_the_application_is_obeyed_and_named(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(LimitExceeded, match="decompression bomb"):
        load_rgb(png(64, 64))  # 4,096 pixels > 2 x 1,000: Pillow's error, as a LimitExceeded


# --- huge metadata chunks -------------------------------------------------------------


@pytest.mark.parametrize(
    "before, after",
    [
        (chunk(b"iCCP", b"profile\x00\x00" + ZLIB_BOMB), b""),
        (chunk(b"zTXt", b"Comment\x00\x00" + ZLIB_BOMB), b""),
        (b"", chunk(b"zTXt", b"Comment\x00\x00" + ZLIB_BOMB)),
        (chunk(b"iTXt", b"Comment\x00\x01\x00\x00\x00" + ZLIB_BOMB), b""),
    ],
    ids=["iCCP", "zTXt-before-IDAT", "zTXt-after-IDAT", "iTXt"],
)
def test_a_zlib_bomb_in_a_metadata_chunk_is_an_invalid_image(before, after):
    """Pillow inflates a text or profile chunk to at most MAX_TEXT_CHUNK (1 MiB)."""
    with pytest.raises(InvalidImage, match="MAX_TEXT_CHUNK"):
        load_rgb(png(8, 8, before, after))


def test_many_text_chunks_stop_at_pillows_text_memory_cap(monkeypatch):
    """Their sum is capped by PngImagePlugin.MAX_TEXT_MEMORY (64 MiB; lowered here to keep the
    test fast, the path is the same)."""
    monkeypatch.setattr(PngImagePlugin, "MAX_TEXT_MEMORY", 4 << 20)
    text = zlib.compress(b"a" * (900 << 10))
    chunks = b"".join(chunk(b"zTXt", b"C%d\x00\x00" % k + text) for k in range(8))
    with pytest.raises(InvalidImage, match="MAX_TEXT_MEMORY"):
        load_rgb(png(8, 8, chunks))


def test_a_large_plain_text_chunk_is_ignored():
    """tEXt is not compressed, so its size is its cost in the file: it is read and dropped."""
    data = png(8, 8, chunk(b"tEXt", b"Comment\x00" + b"a" * (8 << 20)))
    np.testing.assert_array_equal(load_rgb(data), np.zeros((8, 8, 3), np.uint8))


# --- modes ----------------------------------------------------------------------------


def saved(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize(
    "mode, fmt, colour, expected",
    [
        ("CMYK", "TIFF", (0, 255, 255, 0), (255, 0, 0)),  # no cyan, full magenta + yellow: red
        ("LAB", "TIFF", (255, 128, 128), (255, 255, 255)),  # L = 100 %, a = b = 0: white
        ("I;16", "PNG", 65535, (255, 255, 255)),
        ("L", "PNG", 90, (90, 90, 90)),
        ("1", "PNG", 1, (255, 255, 255)),
    ],
)
def test_modes_convert_to_rgb(mode, fmt, colour, expected):
    rgb = load_rgb(saved(Image.new(mode, (4, 4), colour), fmt))
    assert rgb.shape == (4, 4, 3) and rgb.dtype == np.uint8
    np.testing.assert_allclose(rgb.reshape(-1, 3).mean(axis=0), expected, atol=2)


def test_palette_converts_to_rgb():
    img = Image.new("P", (4, 4), 1)
    img.putpalette([0, 0, 0, 10, 20, 30])
    np.testing.assert_array_equal(load_rgb(saved(img, "PNG")), np.full((4, 4, 3), (10, 20, 30), np.uint8))


def test_la_is_flattened_on_white_with_a_warning():
    with pytest.warns(UserWarning, match="flattening it onto white"):
        rgb = load_rgb(saved(Image.new("LA", (4, 4), (0, 0)), "PNG"))  # black, fully transparent
    assert (rgb == 255).all()


def test_floating_point_tiff_is_an_invalid_image():
    with pytest.raises(InvalidImage, match="floating-point"):
        load_rgb(saved(Image.new("F", (4, 4), 0.5), "TIFF"))


# --- not a regular file ---------------------------------------------------------------


def compress_in_a_fresh_process(path: Path) -> str:
    """What ``neuralcodec.compress(path)`` raises, from a process that must end well before
    HANG_SECONDS (a hang fails the test rather than the suite)."""
    code = (
        "import sys, neuralcodec\n"
        "try:\n    neuralcodec.compress(sys.argv[1])\n"
        "except neuralcodec.NfcError as exc:\n    print(type(exc).__name__, exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=HANG_SECONDS
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_compress_of_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    assert (
        compress_in_a_fresh_process(fifo)
        == f"InvalidImage {fifo}: not a regular file (a FIFO, device or socket)"
    )


def test_the_cli_refuses_a_fifo(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    done = subprocess.run(
        [*NFC, "encode", str(fifo), "-o", str(tmp_path / "x.nfc")],
        capture_output=True,
        text=True,
        timeout=HANG_SECONDS,
    )
    assert done.returncode == 1
    assert done.stderr == f"nfc: error: {fifo}: not a regular file (a FIFO, device or socket)\n"


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_dev_zero_is_refused_as_a_path():
    with pytest.raises(InvalidImage, match="not a regular file"):
        neuralcodec.compress("/dev/zero")
    with pytest.raises(InvalidImage, match="not a regular file"):
        neuralcodec.decompress("/dev/zero")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_dev_zero_on_standard_input_stops_at_the_input_cap(tmp_path):
    with open("/dev/zero", "rb") as zero:
        done = subprocess.run(
            [*NFC, "encode", "-", "-o", str(tmp_path / "x.nfc")],
            stdin=zero,
            capture_output=True,
            text=True,
            timeout=HANG_SECONDS,
        )
    assert done.returncode == 1
    assert done.stderr == f"nfc: error: standard input: over the {MAX_INPUT_BYTES:,}-byte input cap\n"
    assert list(tmp_path.iterdir()) == []


def test_a_file_over_the_input_cap_is_refused_before_it_is_read(tmp_path):
    big = tmp_path / "big.png"
    with open(big, "wb") as f:
        f.truncate(MAX_INPUT_BYTES + 1)  # sparse: no disk, and reading it would take a while
    with pytest.raises(LimitExceeded, match=f"{big}: {MAX_INPUT_BYTES + 1:,} bytes, over the"):
        neuralcodec.compress(big)


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(InvalidImage, match="is a directory"):
        neuralcodec.compress(tmp_path)
    with pytest.raises(InvalidImage, match="is a directory"):
        neuralcodec.decompress(tmp_path)
    done = subprocess.run([*NFC, "encode", str(tmp_path), "-o", "x.nfc"], capture_output=True, text=True)
    assert done.returncode == 2 and "is a folder: add -r/--recursive" in done.stderr


# --- closed standard streams ------------------------------------------------------------


def nfc_in_shell(args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", f'"$0" -m neuralcodec.cli.main {args}', sys.executable],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=HANG_SECONDS,
    )


def test_encode_to_a_closed_standard_output_is_one_line_exit_1(face_png, tmp_path):
    done = nfc_in_shell(f"encode {face_png} -o - >&-", tmp_path)
    assert done.returncode == 1
    assert done.stderr == f"nfc: error: {face_png}: standard output is closed; nothing was written\n"


def test_decode_to_a_closed_standard_output_is_one_line_exit_1(face_png, tmp_path):
    nfc = tmp_path / "face.nfc"
    nfc.write_bytes(neuralcodec.compress(face_png))
    done = nfc_in_shell(f"decode {nfc} -o - >&-", tmp_path)
    assert (
        done.returncode == 1 and done.stderr.count("\n") == 1 and "standard output is closed" in done.stderr
    )


def test_encode_from_a_closed_standard_input_is_one_line_exit_1(tmp_path):
    done = nfc_in_shell("encode - -o x.nfc <&-", tmp_path)
    assert done.returncode == 1
    assert done.stderr == "nfc: error: standard input: closed, nothing to read\n"
    assert list(tmp_path.iterdir()) == []


def test_a_reader_that_went_away_is_one_line_exit_1(face_png):
    read, write = os.pipe()
    os.close(read)  # the reader is gone before nfc writes: EPIPE
    try:
        done = subprocess.run(
            [*NFC, "encode", str(face_png), "-o", "-"], stdout=write, stderr=subprocess.PIPE, text=True
        )
    finally:
        os.close(write)
    assert done.returncode == 1
    assert done.stderr == f"nfc: error: {face_png}: standard output was closed by its reader\n"
