"""neuralcodec.compress / decompress / inspect with the shipped model."""

from __future__ import annotations

import subprocess
import sys
import zlib

import numpy as np
import pytest
from helpers import psnr
from PIL import Image

import neuralcodec
from neuralcodec.container import NfcFile, pack, unpack
from neuralcodec.errors import CorruptBitstream, CorruptHeader, NfcError, UnknownModel


@pytest.fixture(scope="module")
def small_file(face) -> bytes:
    return neuralcodec.compress(face, quality=1)


def test_qualities_are_numbered_from_one():
    qualities = neuralcodec.available_qualities()
    assert qualities == list(range(1, len(qualities) + 1)) and len(qualities) >= 6


@pytest.mark.parametrize("h,w", [(128, 128), (97, 131), (1, 1), (64, 200), (200, 48)])
def test_round_trip_sizes(h, w, face):
    rgb = np.ascontiguousarray(np.resize(face, (h, w, 3)))
    data = neuralcodec.compress(rgb, quality=3)
    out = neuralcodec.decompress(data)
    assert out.mode == "RGB" and out.size == (w, h)
    info = neuralcodec.inspect(data)
    assert (info.width, info.height, info.quality, info.file_bytes) == (w, h, 3, len(data))


def test_accepts_pil_path_and_bytes(face, tmp_path):
    p = tmp_path / "face.png"
    Image.fromarray(face).save(p)
    expected = neuralcodec.compress(face, quality=2)
    assert neuralcodec.compress(Image.fromarray(face), quality=2) == expected
    assert neuralcodec.compress(p, quality=2) == expected
    assert neuralcodec.compress(p.read_bytes(), quality=2) == expected


def test_compression_is_deterministic(face):
    assert neuralcodec.compress(face, quality=4) == neuralcodec.compress(face, quality=4)


def test_quality_trades_bytes_for_fidelity(face):
    sizes, scores = [], []
    for q in neuralcodec.available_qualities():
        data = neuralcodec.compress(face, quality=q)
        sizes.append(len(data))
        scores.append(psnr(np.asarray(neuralcodec.decompress(data)), face))
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)
    assert scores == sorted(scores)
    assert scores[0] > 20.0 and scores[-1] > 30.0


@pytest.mark.parametrize("quality", [0, 99, -1, 3.0, "3", True])
def test_quality_that_does_not_exist_is_a_value_error(quality, face):
    with pytest.raises(ValueError, match="quality"):
        neuralcodec.compress(face, quality=quality)


def test_no_quality_means_the_default(face):
    data = neuralcodec.compress(face)
    assert neuralcodec.inspect(data).quality == neuralcodec.DEFAULT_QUALITY


def test_unknown_model_name_is_a_value_error(face):
    with pytest.raises(ValueError, match="unknown model"):
        neuralcodec.compress(face, model="jpeg2000")


def test_every_truncation_raises(small_file):
    for n in range(len(small_file)):
        with pytest.raises(NfcError):
            neuralcodec.decompress(small_file[:n])


def test_every_bit_flip_raises(small_file):
    for i in range(len(small_file) * 8):
        flipped = bytearray(small_file)
        flipped[i // 8] ^= 1 << (i % 8)
        with pytest.raises(NfcError):
            neuralcodec.decompress(bytes(flipped))


def _repack(f: NfcFile, **changes) -> bytes:
    fields = {**f.__dict__, **changes}
    return pack(NfcFile(**fields))


def test_unknown_model_id(small_file):
    f = unpack(small_file)
    with pytest.raises(UnknownModel):
        neuralcodec.decompress(_repack(f, model_hash=f.model_hash ^ 0x5A5A))


def test_quality_missing_from_the_model(small_file):
    with pytest.raises(CorruptHeader):
        neuralcodec.decompress(_repack(unpack(small_file), quality=200))


def test_wrong_stream_count(small_file):
    f = unpack(small_file)
    with pytest.raises(CorruptHeader):
        neuralcodec.decompress(_repack(f, streams=f.streams + (b"",)))


def test_damaged_streams_behind_a_valid_checksum_never_crash(small_file):
    """A crafted file (CRC recomputed) must give CorruptBitstream or an image, nothing else."""
    f = unpack(small_file)
    rng = np.random.default_rng(1)
    rejected = 0
    trials = 150
    for t in range(trials):
        streams = [bytearray(s) for s in f.streams]
        s = streams[t % 2]
        if len(s) and t % 3:
            s[rng.integers(len(s))] ^= 1 << rng.integers(8)
        else:
            streams[t % 2] = bytearray(rng.integers(0, 256, rng.integers(0, 40), dtype=np.uint8).tobytes())
        try:
            img = neuralcodec.decompress(_repack(f, streams=tuple(bytes(x) for x in streams)))
            assert img.size == (f.width, f.height)
        except CorruptBitstream:
            rejected += 1
    assert rejected > trials // 2


def test_decoding_is_identical_with_one_or_two_threads(face, tmp_path):
    data = neuralcodec.compress(face, quality=5)
    (tmp_path / "f.nfc").write_bytes(data)
    script = (
        "import sys, hashlib, torch, numpy, neuralcodec; torch.set_num_threads(int(sys.argv[1]));"
        "d = open(sys.argv[2], 'rb').read(); img = neuralcodec.decompress(d);"
        "enc = neuralcodec.compress(img, quality=5);"
        "print(hashlib.sha256(numpy.asarray(img).tobytes()).hexdigest(), hashlib.sha256(enc).hexdigest())"
    )
    outs = [
        subprocess.run(
            [sys.executable, "-c", script, str(n), str(tmp_path / "f.nfc")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for n in (1, 2)
    ]
    assert outs[0] == outs[1]
    assert zlib.crc32(data) == zlib.crc32(neuralcodec.compress(face, quality=5))


def test_target_bytes_gives_the_highest_quality_that_fits(face):
    sizes = {q: len(neuralcodec.compress(face, quality=q)) for q in neuralcodec.available_qualities()}
    qualities = sorted(sizes)
    assert [sizes[q] for q in qualities] == sorted(sizes.values())  # what the bisection relies on
    for q in (qualities[0], qualities[len(qualities) // 2], qualities[-1]):
        exact = neuralcodec.compress(face, target_bytes=sizes[q])
        assert exact == neuralcodec.compress(face, quality=q)
    between = (sizes[qualities[2]] + sizes[qualities[3]]) // 2
    assert neuralcodec.inspect(neuralcodec.compress(face, target_bytes=between)).quality == qualities[2]
    assert neuralcodec.inspect(neuralcodec.compress(face, target_bytes=10**9)).quality == qualities[-1]


def test_target_bytes_too_small_says_the_smallest_size(face):
    smallest = len(neuralcodec.compress(face, quality=neuralcodec.available_qualities()[0]))
    with pytest.raises(neuralcodec.InvalidOption, match=f"smallest file for this image is {smallest} bytes"):
        neuralcodec.compress(face, target_bytes=smallest - 1)


@pytest.mark.parametrize(
    "kwargs", [{"target_bytes": 0}, {"target_bytes": 2.5}, {"target_bytes": 900, "quality": 3}]
)
def test_bad_target_bytes_is_an_invalid_option(face, kwargs):
    with pytest.raises(neuralcodec.InvalidOption):
        neuralcodec.compress(face, **kwargs)


def test_compress_takes_bytes_like_inputs_and_numpy_numbers(face, tmp_path):
    p = tmp_path / "face.png"
    Image.fromarray(face).save(p)
    data = p.read_bytes()
    expected = neuralcodec.compress(face, quality=6, roi=(32, 24, 64, 80), roi_levels=(1.5, -0.75))
    numpy_options = dict(quality=np.int64(6), roi=tuple(np.array([32, 24, 64, 80])), roi_levels=(1.5, -0.75))
    for source in (data, bytearray(data), memoryview(data), face):
        assert neuralcodec.compress(source, **numpy_options) == expected
    budget = neuralcodec.compress(face, target_bytes=900)
    assert neuralcodec.compress(face, target_bytes=np.int32(900)) == budget
    with pytest.raises(ValueError, match="quality"):
        neuralcodec.compress(face, quality=np.bool_(True))
