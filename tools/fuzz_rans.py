"""Fuzz the rANS lane decoder: only its named errors may escape, and what it accepts is canonical.

    nice -n 19 python -m tools.fuzz_rans --driver libfuzzer --seconds 300   # C++, ASan + UBSan
    nice -n 15 env OMP_NUM_THREADS=1 python -m tools.fuzz_rans --seconds 300            # atheris if installed
    nice -n 15 env OMP_NUM_THREADS=1 python -m tools.fuzz_rans --seconds 300 --driver random

``--driver libfuzzer`` builds tests/fuzz/rans_fuzzer.cpp with the torch-free coder sources
(csrc/rans/rans_coder.cpp) into build/fuzz/ with ``clang++ -fsanitize=fuzzer,address,undefined``
and runs it from the committed seed corpus tests/fuzz/corpus/rans/ (plus a work corpus,
``--corpus``); its input layout and oracles are in the .cpp's header comment. ``--runs N``
stops after N inputs; a crash, leak, sanitizer report or oracle failure writes ``crash-*``
(or ``leak-*``, ``timeout-*``) into the current folder and exits non-zero.
``--write-seeds`` regenerates the seed corpus.

The Python drivers go through ``neuralcodec._C``'s bindings. Each input is one byte choosing
a target, then the stream bytes:

* ``small``: a 1-lane stream of 24 symbols over 6 random tables, decoded by the C++ coder *and*
  by the pure-Python reference (neuralcodec/entropy/reference.py): both must reject it, or both must
  return the same symbols (differential fuzzing);
* ``lanes``: a 3-lane stream of 131,089 symbols over a sparse table (so valid streams are ~100
  bytes), decoded with 1 or 2 threads; only a crash, hang or foreign exception is a failure.

``--driver atheris`` uses libFuzzer's mutator (guided by Python coverage only: the extension
is not built with -fsanitize=fuzzer); ``--driver random`` mutates valid seed streams (bit flips,
byte overwrites, cuts, insertions, varint splices). A crash kills the process, so a run that
prints its input count finished without one.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch  # noqa: F401  (loads libc10 for neuralcodec._C)

from neuralcodec import _C
from neuralcodec.entropy import reference as ref

EXPECTED = (_C.RansDecodeError, _C.RansArgumentError)


def _random_tables(rng, num_tables=6, max_length=20):
    cdfs = np.zeros((num_tables, max_length), np.int32)
    lengths = rng.integers(2, max_length + 1, num_tables).astype(np.int32)
    for t, length in enumerate(lengths):
        cdfs[t, 1 : length - 1] = np.sort(rng.choice(np.arange(1, 1 << 16), size=length - 2, replace=False))
        cdfs[t, length - 1] = 1 << 16
    return cdfs, lengths, rng.integers(-10, 10, num_tables).astype(np.int32)


_RNG = np.random.default_rng(0)
SMALL_TABLES = _random_tables(_RNG)
SMALL_INDEXES = _RNG.integers(0, 6, 24).astype(np.int32)
SMALL_SYMBOLS = (_RNG.integers(-3, 20, 24) + SMALL_TABLES[2][SMALL_INDEXES]).astype(np.int32)
SMALL_LISTS = [SMALL_INDEXES.tolist(), *SMALL_TABLES]

SPARSE = (np.array([[0, 65535, 65536]], np.int32), np.array([3], np.int32), np.array([0], np.int32))
LANES_COUNT = 2 * ref.SYMBOLS_PER_LANE + 17
LANES_INDEXES = np.zeros(LANES_COUNT, np.int32)
LANES_SYMBOLS = np.zeros(LANES_COUNT, np.int32)
LANES_SYMBOLS[:: ref.SYMBOLS_PER_LANE // 5] = _RNG.integers(
    -(10**6), 10**6, LANES_SYMBOLS[:: ref.SYMBOLS_PER_LANE // 5].size
)

SEEDS = [
    b"\x00" + _C.encode_lanes(SMALL_SYMBOLS, SMALL_INDEXES, *SMALL_TABLES),
    b"\x01" + _C.encode_lanes(LANES_SYMBOLS, LANES_INDEXES, *SPARSE),
    b"\x81" + _C.encode_lanes(LANES_SYMBOLS, LANES_INDEXES, *SPARSE),  # high bit: 2 threads
]


class Counter:
    inputs = 0
    accepted = 0


def one_input(data: bytes) -> None:
    Counter.inputs += 1
    if not data:
        return
    target, stream = data[0], data[1:]
    if target & 1 == 0:
        try:
            ours = _C.decode_lanes(stream, SMALL_INDEXES, *SMALL_TABLES, threads=1).tolist()
        except EXPECTED:
            ours = None
        try:
            theirs = ref.decode_lanes(stream, *SMALL_LISTS)
        except ValueError:
            theirs = None
        if ours != theirs:
            raise AssertionError(f"C++ and reference disagree on {stream!r}: {ours} vs {theirs}")
    else:
        try:
            decoded = _C.decode_lanes(stream, LANES_INDEXES, *SPARSE, threads=2 if target & 0x80 else 1)
        except EXPECTED:
            return
        assert decoded.shape == LANES_INDEXES.shape
    Counter.accepted += 1


def mutate(seed: bytes, rng: random.Random) -> bytes:
    data = bytearray(seed)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(6)
        pos = rng.randrange(1, max(2, len(data)))
        if kind == 0 and len(data) > 1:
            data[pos % len(data)] ^= 1 << rng.randrange(8)
        elif kind == 1 and len(data) > 1:
            data[pos % len(data)] = rng.randrange(256)
        elif kind == 2:
            del data[pos:]
        elif kind == 3:
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif kind == 4:
            data[1:1] = ref.varint(rng.choice([0, 4, 8, 12, 127, 128, 2**14, 2**35]))
        else:
            del data[pos : pos + rng.randint(1, 8)]
    return bytes(data)


def run_random(seconds: float, seed: int) -> None:
    rng = random.Random(seed)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(100):
            one_input(mutate(rng.choice(SEEDS), rng))


def run_atheris(seconds: float, corpus: Path) -> None:
    import atheris

    corpus.mkdir(parents=True, exist_ok=True)
    for k, seed in enumerate(SEEDS):
        (corpus / f"seed{k}").write_bytes(seed)
    atheris.Setup([sys.argv[0], f"-max_total_time={int(seconds)}", "-timeout=10", str(corpus)], one_input)
    try:
        atheris.Fuzz()
    except SystemExit:
        pass


ROOT = Path(__file__).resolve().parent.parent
FUZZER_SOURCE = ROOT / "tests" / "fuzz" / "rans_fuzzer.cpp"
CODER_SOURCES = [ROOT / "csrc" / "rans" / "rans_coder.cpp"]
CODER_HEADERS = ROOT / "csrc" / "rans"
SEED_CORPUS = ROOT / "tests" / "fuzz" / "corpus" / "rans"
BUILD_DIR = ROOT / "build" / "fuzz"
FUZZ_FLAGS = ["-std=c++20", "-O2", "-g", "-pthread", "-fno-sanitize-recover=all"]


def clang() -> str | None:
    """The clang++ to build with ($CXX if it is clang), or None."""
    for candidate in (os.environ.get("CXX"), "clang++"):
        if candidate and "clang" in Path(candidate).name and shutil.which(candidate):
            return candidate
    return None


def build_libfuzzer(seed_writer: bool = False) -> Path:
    """Build (if its sources changed) the libFuzzer target, or the seed writer; returns its path."""
    compiler = clang()
    if compiler is None:
        raise SystemExit("fuzz_rans: clang++ not found (apt-get install clang); libFuzzer needs clang")
    name = "rans_seed_writer" if seed_writer else "rans_fuzzer"
    binary = BUILD_DIR / name
    sources = [FUZZER_SOURCE, *CODER_SOURCES, *CODER_HEADERS.glob("*.hpp")]
    if binary.exists() and all(s.stat().st_mtime < binary.stat().st_mtime for s in sources):
        return binary
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    sanitizers = "address,undefined" if seed_writer else "fuzzer,address,undefined"
    defines = ["-DRANS_FUZZ_SEED_WRITER"] if seed_writer else []
    subprocess.run(
        [compiler, *FUZZ_FLAGS, f"-fsanitize={sanitizers}", *defines, f"-I{CODER_HEADERS}"]
        + [str(FUZZER_SOURCE), *map(str, CODER_SOURCES), "-o", str(binary)],
        check=True,
    )
    return binary


def write_seeds(folder: Path) -> None:
    """Replace the seed-* files of ``folder`` with fresh valid inputs (other files are kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("seed-*"):
        old.unlink()
    subprocess.run([str(build_libfuzzer(seed_writer=True)), str(folder)], check=True)


def run_libfuzzer(seconds: float, corpus: Path, runs: int | None, extra: list[str]) -> int:
    binary = build_libfuzzer()
    corpus.mkdir(parents=True, exist_ok=True)
    options = [f"-max_total_time={int(seconds)}", "-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1"]
    if runs is not None:
        options.append(f"-runs={runs}")
    return subprocess.run([str(binary), *options, *extra, str(corpus), str(SEED_CORPUS)]).returncode


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--driver", choices=["atheris", "random", "libfuzzer"], default=None)
    parser.add_argument("--seed", type=int, default=0, help="random driver's seed")
    parser.add_argument("--corpus", type=Path, default=None, help="work corpus (default: a temporary folder)")
    parser.add_argument("--runs", type=int, default=None, help="libfuzzer: stop after this many inputs")
    parser.add_argument(
        "--write-seeds", action="store_true", help=f"regenerate {SEED_CORPUS.relative_to(ROOT)}"
    )
    args, extra = parser.parse_known_args()
    if args.write_seeds:
        write_seeds(SEED_CORPUS)
        return
    if args.driver == "libfuzzer":
        if args.corpus is not None:
            raise SystemExit(run_libfuzzer(args.seconds, args.corpus, args.runs, extra))
        with tempfile.TemporaryDirectory(prefix="fuzz_rans_") as tmp:
            raise SystemExit(run_libfuzzer(args.seconds, Path(tmp), args.runs, extra))
    if extra:
        parser.error(f"unrecognised arguments: {' '.join(extra)}")
    for seed in SEEDS:  # the seeds are valid: both targets accept them
        one_input(seed)
    driver = args.driver
    if driver is None:
        try:
            import atheris  # noqa: F401

            driver = "atheris"
        except ImportError:
            driver = "random"
    import atexit

    start = time.monotonic()
    atexit.register(
        lambda: print(
            f"fuzz_rans ({driver}): {Counter.inputs} inputs, {Counter.accepted} decoded, "
            f"the rest rejected with RansDecodeError/RansArgumentError; no crash "
            f"({time.monotonic() - start:.0f} s)",
            flush=True,
        )
    )
    if driver == "atheris":
        run_atheris(args.seconds, args.corpus or Path(tempfile.mkdtemp(prefix="fuzz_rans_")))
    else:
        run_random(args.seconds, args.seed)


if __name__ == "__main__":
    main()
