"""neuralcodec.compress_batch / decompress_batch: the same bytes and pixels as one call per image."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from PIL import Image

import neuralcodec
from neuralcodec import codec
from neuralcodec.container import NfcFile, pack, unpack
from neuralcodec.errors import ChecksumMismatch, CorruptBitstream, InvalidImage, InvalidOption


def _sized(face: np.ndarray, h: int, w: int, shift: int = 0) -> np.ndarray:
    return np.ascontiguousarray(np.resize(np.roll(face, shift, axis=1), (h, w, 3)))


@pytest.fixture(scope="module")
def mixed(face) -> list[np.ndarray]:
    """Faces of four sizes, interleaved."""
    sizes = [(128, 128), (97, 131), (128, 128), (64, 200), (128, 128), (97, 131), (1, 1)]
    return [_sized(face, h, w, shift=7 * i) for i, (h, w) in enumerate(sizes)]


def _pixels(images: list[Image.Image]) -> list[bytes]:
    return [np.asarray(img).tobytes() for img in images]


@pytest.mark.parametrize("quality", [1, 6, 11])
def test_compress_batch_gives_the_bytes_of_single_calls(mixed, quality):
    assert neuralcodec.compress_batch(mixed, quality=quality) == [
        neuralcodec.compress(img, quality=quality) for img in mixed
    ]


def test_batches_of_one_and_none(face):
    assert neuralcodec.compress_batch([face], quality=3) == [neuralcodec.compress(face, quality=3)]
    data = neuralcodec.compress(face, quality=3)
    assert _pixels(neuralcodec.decompress_batch([data])) == _pixels([neuralcodec.decompress(data)])
    assert neuralcodec.compress_batch([]) == [] and neuralcodec.decompress_batch([]) == []


def test_compress_batch_takes_any_iterable_and_options(face, tmp_path):
    path = tmp_path / "face.png"
    Image.fromarray(face).save(path)
    inputs = (x for x in (path, Image.fromarray(face), path.read_bytes()))
    expected = neuralcodec.compress(face, quality=2, model="gan")
    assert neuralcodec.compress_batch(inputs, quality=2, model="gan") == [expected] * 3


def test_roi_and_byte_budget_files_match_single_calls(mixed):
    faces = [m for m in mixed if m.shape[:2] == (128, 128)]
    roi = dict(roi=(32, 24, 64, 80))
    assert neuralcodec.compress_batch(faces, quality=4, **roi) == [
        neuralcodec.compress(f, quality=4, **roi) for f in faces
    ]
    fixed = dict(roi=(0, 0, 48, 48), roi_levels=(1.5, -0.75))
    assert neuralcodec.compress_batch(faces, quality=4, **fixed) == [
        neuralcodec.compress(f, quality=4, **fixed) for f in faces
    ]
    assert neuralcodec.compress_batch(faces, target_bytes=700) == [
        neuralcodec.compress(f, target_bytes=700) for f in faces
    ]


def test_decompress_batch_gives_the_pixels_of_single_calls(mixed):
    """Mixed sizes, qualities, decoders and ROI files in one batch."""
    files = [neuralcodec.compress(img, quality=1 + 3 * i % 11) for i, img in enumerate(mixed)]
    files.append(neuralcodec.compress(mixed[0], quality=2, model="gan"))
    files.append(neuralcodec.compress(mixed[2], quality=5, roi=(10, 10, 80, 90)))
    expected = [neuralcodec.decompress(f) for f in files]
    got = neuralcodec.decompress_batch(files)
    assert [img.size for img in got] == [img.size for img in expected]
    assert _pixels(got) == _pixels(expected)
    faithful = neuralcodec.decompress_batch(files, decoder="faithful")
    assert _pixels(faithful) == _pixels([neuralcodec.decompress(f, decoder="faithful") for f in files])


def test_runs_of_the_pixel_budget_give_the_same_results(mixed, monkeypatch):
    files = neuralcodec.compress_batch(mixed, quality=5)
    images = _pixels(neuralcodec.decompress_batch(files))
    monkeypatch.setattr(codec, "BATCH_PIXELS", 2 * 128 * 128)  # runs of one or two images
    assert neuralcodec.compress_batch(mixed, quality=5) == files
    assert _pixels(neuralcodec.decompress_batch(files)) == images


@pytest.mark.faces
def test_many_real_faces_code_the_same_in_a_batch(real_faces, face):
    """Stacked synthesis against one image at a time, on real faces: floats that differed in
    the last bits would change some pixels here."""
    faces = [np.asarray(Image.open(p).convert("RGB")) for p in real_faces]
    faces += [np.ascontiguousarray(f[:, ::-1]) for f in faces] + [
        np.ascontiguousarray(f[::-1]) for f in faces
    ]
    for quality in (2, 8):
        files = neuralcodec.compress_batch(faces, quality=quality)
        assert files == [neuralcodec.compress(f, quality=quality) for f in faces]
        assert _pixels(neuralcodec.decompress_batch(files)) == _pixels(
            [neuralcodec.decompress(f) for f in files]
        )


def test_a_bad_image_is_named_by_its_position(face):
    with pytest.raises(InvalidImage, match=r"^image 1: not an image file Pillow can read"):
        neuralcodec.compress_batch([face, b"not an image", face])
    with pytest.raises(InvalidOption, match=r"^image 0: ROI .* outside"):
        neuralcodec.compress_batch([face], roi=(100, 100, 64, 64))
    with pytest.raises(InvalidOption, match="quality"):
        neuralcodec.compress_batch([face], quality=99)


def test_a_bad_file_is_named_by_its_position(face):
    good = neuralcodec.compress(face, quality=3)
    with pytest.raises(ChecksumMismatch, match=r"^file 1: "):
        neuralcodec.decompress_batch([good, good[:-1] + bytes([good[-1] ^ 1]), good])
    # streams swapped behind a valid checksum: only the coder finds it, in the batched call
    f = unpack(good)
    bad = pack(NfcFile(f.model_hash, f.quality, f.width, f.height, (f.streams[0], b"\xff" * 7), f.roi))
    assert zlib.crc32(bad[:-4]).to_bytes(4, "big") == bad[-4:]
    with pytest.raises(CorruptBitstream, match=r"^file 2: "):
        neuralcodec.decompress_batch([good, good, bad, good])


def test_decompress_reads_a_path(face, tmp_path):
    data = neuralcodec.compress(face, quality=3)
    path = tmp_path / "face.nfc"
    path.write_bytes(data)
    expected = np.asarray(neuralcodec.decompress(data))
    for source in (path, str(path), bytearray(data), memoryview(data)):
        np.testing.assert_array_equal(np.asarray(neuralcodec.decompress(source)), expected)
    assert _pixels(neuralcodec.decompress_batch([path, str(path)])) == [expected.tobytes()] * 2


def test_decompress_of_a_bad_path_is_an_invalid_image(tmp_path):
    with pytest.raises(InvalidImage, match="no such file"):
        neuralcodec.decompress(tmp_path / "missing.nfc")
    with pytest.raises(InvalidImage, match="is a directory"):
        neuralcodec.decompress(tmp_path)
    with pytest.raises(TypeError):
        neuralcodec.decompress(12)  # type: ignore[arg-type]
