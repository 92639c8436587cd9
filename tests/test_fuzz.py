"""Fuzzing smoke runs, the committed corpora, and the decoder's memory cap on forged headers.

The long runs and their numbers: docs/fuzzing.md. Here: every corpus input replays clean, each
fuzzer runs a few seconds (skipped, with the reason, where clang++ or atheris is missing), and a
forged header cannot make the decoder allocate more than the cap docs/fuzzing.md states.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest

from neuralcodec.container import spec, unpack
from tools import fuzz_python, fuzz_rans

ROOT = Path(__file__).resolve().parent.parent
RANS_CORPUS = ROOT / "tests" / "fuzz" / "corpus" / "rans"
NFC_CORPUS = ROOT / "tests" / "fuzz" / "corpus" / "nfc"
SMOKE_SECONDS = 4


def test_nfc_corpus_replays_with_only_named_errors():
    one_input = fuzz_python.make_one_input(pillow=None)
    inputs = sorted(NFC_CORPUS.iterdir())
    before = fuzz_python.Stats.decoded
    for path in inputs:
        one_input(path.read_bytes())  # raises on anything but NfcError / InvalidOption
    seeds = [p for p in inputs if p.name.startswith("seed-")]
    assert len(seeds) >= 10 and fuzz_python.Stats.decoded - before >= len(seeds)


@pytest.fixture(scope="module")
def rans_fuzzer() -> Path:
    if fuzz_rans.clang() is None:
        pytest.skip("clang++ not found: the libFuzzer target needs clang (apt-get install clang)")
    return fuzz_rans.build_libfuzzer()


def test_rans_corpus_replays_clean(rans_fuzzer):
    inputs = sorted(str(p) for p in RANS_CORPUS.iterdir())
    assert any("regression" in p for p in inputs)
    done = subprocess.run([str(rans_fuzzer), *inputs], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]


def test_rans_libfuzzer_smoke(rans_fuzzer, tmp_path):
    done = subprocess.run(
        [
            str(rans_fuzzer),
            f"-max_total_time={SMOKE_SECONDS}",
            "-timeout=60",
            str(tmp_path),
            str(RANS_CORPUS),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Done" in done.stderr and "cov:" in done.stderr


def test_python_fuzzer_smoke(tmp_path):
    pytest.importorskip("atheris", reason="atheris not installed (pip install atheris)")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.fuzz_python",
            "--seconds",
            str(SMOKE_SECONDS),
            "--corpus",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Done" in done.stderr and "cov:" in done.stderr  # libFuzzer's final line and coverage


# --- memory cap --------------------------------------------------------------------------

_MEASURE = textwrap.dedent(
    """
    import sys
    import numpy as np
    import neuralcodec

    def peak():  # VmHWM, not ru_maxrss: that one keeps the forking parent's peak across exec
        line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
        return int(line.split()[1]) * 1024

    data = open(sys.argv[1], "rb").read()
    before = peak()  # before loading the model
    neuralcodec.decompress(neuralcodec.compress(np.full((64, 64, 3), 128, np.uint8), quality=1))
    try:
        neuralcodec.decompress(data)
        outcome = "decoded"
    except neuralcodec.NfcError as exc:
        outcome = type(exc).__name__
    print(outcome, peak() - before)
    """
)


def _decode_growth(data: bytes, tmp_path: Path) -> tuple[str, int]:
    """(outcome, peak RSS growth in bytes) of decoding ``data`` in a fresh process."""
    path = tmp_path / "measured.nfc"
    path.write_bytes(data)
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)},
    )
    outcome, grown = done.stdout.split()
    return outcome, int(grown)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(0x80 | value & 0x7F)
        value >>= 7
    return bytes(out + bytes([value]))


def _forged(model_hash: int, width: int, height: int, streams: tuple[bytes, bytes]) -> bytes:
    """A well-formed file with any size (pack() refuses sizes beyond the cap) and checksum."""
    body = spec.MAGIC + bytes([spec.VERSION]) + model_hash.to_bytes(2, "big") + bytes([1, 0])
    body += _varint(width - 1) + _varint(height - 1) + bytes([2]) + _varint(len(streams[0]))
    body += streams[0] + streams[1]
    return body + zlib.crc32(body).to_bytes(4, "big")


@pytest.fixture(scope="module")
def model_hash() -> int:
    import numpy as np

    import neuralcodec

    return unpack(neuralcodec.compress(np.zeros((8, 8, 3), np.uint8), quality=1)).model_hash


FORGED_CAP_BYTES = 64 * 2**20
#: Decoding a file needs at most this many bytes per pixel of its header's size (docs/fuzzing.md),
#: beyond loading the model (the peak RSS of loading it and coding a 64x64 image, measured with it).
DECODE_BYTES_PER_PIXEL = 400
MODEL_LOAD_BYTES = 512 * 2**20


@pytest.mark.parametrize(("width", "height"), [(8192, 4096), (2_000_000, 2_000_000)])
def test_forged_huge_header_allocates_little(width, height, model_hash, tmp_path):
    """A small file claiming the largest size the cap allows (or far more) is refused, at the
    first stream (or the header), before anything of the claimed size is allocated."""
    data = _forged(model_hash, width, height, (bytes(range(40)), bytes(64)))
    outcome, grown = _decode_growth(data, tmp_path)
    assert outcome == ("CorruptBitstream" if width * height <= spec.MAX_PIXELS else "LimitExceeded")
    assert grown < MODEL_LOAD_BYTES + FORGED_CAP_BYTES


@pytest.mark.parametrize("what", ["valid", "corrupt-latent"])
def test_decoding_allocates_at_most_the_stated_bytes_per_pixel(what, model_hash, tmp_path):
    """A flat image codes to a few hundred bytes whatever its size, so a small file can ask
    for a big decode: what bounds it is the pixel cap times this per-pixel cost."""
    import numpy as np

    import neuralcodec

    width, height = 1024, 1024  # decoding needs more than loading the model did (the RSS peak)
    f = unpack(neuralcodec.compress(np.full((height, width, 3), 128, np.uint8), quality=1))
    latent = f.streams[1] if what == "valid" else bytes(64)
    outcome, grown = _decode_growth(_forged(model_hash, width, height, (f.streams[0], latent)), tmp_path)
    assert outcome == ("decoded" if what == "valid" else "CorruptBitstream")
    assert 0 < grown <= MODEL_LOAD_BYTES + DECODE_BYTES_PER_PIXEL * width * height
