"""Fuzz the Python entry points that read .nfc bytes: only NfcError / InvalidOption may escape.

    nice -n 19 env OMP_NUM_THREADS=1 python -m tools.fuzz_python --seconds 600             # atheris
    nice -n 19 env OMP_NUM_THREADS=1 python -m tools.fuzz_python --seconds 600 --driver random
    python -m tools.fuzz_python --replay tests/fuzz/corpus/nfc                               # check a corpus

Targets (chosen by the input's first byte, bits 1-2): ``neuralcodec.decompress``,
``neuralcodec.inspect``, and the Pillow plugin (``Image.open(...).load()``) once one registers
the ``NFC`` format (:data:`PILLOW_PLUGIN_MODULES`; skipped, with a note, until then).
Bit 0 set: the rest of the input is a file *without* its CRC-32, which the harness appends,
so that the mutator reaches the header and stream parsers instead of stopping at the checksum;
bit 0 clear: the rest is the file as is. The seed corpus (tests/fuzz/corpus/nfc/, written by
``--write-seeds``) holds small valid files of both kinds.

Oracles: a decoded image is RGB and has the header's size; ``inspect`` agrees with the header;
no other exception type escapes. Memory: the run is capped at ``--rss-limit-mb`` (libFuzzer's
``-rss_limit_mb``, an RSS check, since Python objects are not malloc-hooked); a forged header
that made the decoder allocate past it fails the run (tests/test_fuzz.py checks the cap of
a single forged file directly).

``--driver atheris`` (the default when atheris is installed) instruments the neuralcodec
package and uses libFuzzer's coverage-guided mutator; it prints libFuzzer's ``cov:``/``ft:``
coverage counters. ``--driver random`` mutates the seeds (bit flips, overwrites, cuts, splices).
The random driver's last line counts the inputs run, atheris's is libFuzzer's ``Done N runs``;
a failure stops the run with a traceback and (atheris) writes the input to ``crash-*``.
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import io
import random
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SEED_CORPUS = ROOT / "tests" / "fuzz" / "corpus" / "nfc"
#: Modules that may register the .nfc Pillow plugin (imported if present).
PILLOW_PLUGIN_MODULES = ("neuralcodec.pillow", "neuralcodec.pillow_plugin")
FIX_CRC = 0x01


def _codec():
    """neuralcodec, imported on first use: the atheris driver must import it instrumented."""
    import neuralcodec

    return neuralcodec


def _expected() -> tuple[type[Exception], ...]:
    """What a reader may raise on purpose (errors.py): anything else is a finding."""
    from neuralcodec.errors import InvalidOption, NfcError

    return (NfcError, InvalidOption)


def _pillow_open() -> Callable[[bytes], object] | None:
    from PIL import Image

    for name in PILLOW_PLUGIN_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
    Image.init()
    if "NFC" not in Image.OPEN:
        return None

    from PIL import UnidentifiedImageError

    from neuralcodec.container.spec import MAGIC

    def open_nfc(data: bytes) -> object:
        try:
            img = Image.open(io.BytesIO(data), formats=["NFC"])
        except UnidentifiedImageError:
            if data.startswith(MAGIC):
                raise  # the plugin must claim every file with its magic
            return None  # Pillow's answer for a file no plugin accepts
        with img:
            img.load()
            return img.size

    return open_nfc


def _decompress(data: bytes) -> None:
    img = _codec().decompress(data)
    info = _codec().inspect(data)
    if img.mode != "RGB" or img.size != (info.width, info.height):
        raise AssertionError(f"decoded {img.mode} {img.size}, header says {info.width}x{info.height}")


def _inspect(data: bytes) -> None:
    info = _codec().inspect(data)
    if info.file_bytes != len(data) or not 0 <= info.payload_bytes < len(data):
        raise AssertionError(f"inspect sizes {info.file_bytes}/{info.payload_bytes} for {len(data)} bytes")


class Stats:
    inputs = 0
    decoded = 0
    rejected = 0


def file_bytes(data: bytes) -> bytes:
    """The .nfc bytes an input stands for (the CRC appended when its first byte asks for it)."""
    body = data[1:]
    if data[0] & FIX_CRC:
        return body + zlib.crc32(body).to_bytes(4, "big")
    return body


def make_one_input(pillow: Callable[[bytes], object] | None) -> Callable[[bytes], None]:
    targets: list[Callable[[bytes], object]] = [_decompress, _inspect, pillow or _decompress, _inspect]
    expected = _expected()

    def one_input(data: bytes) -> None:
        Stats.inputs += 1
        if not data:
            return
        target = targets[(data[0] >> 1) & 3]
        try:
            target(file_bytes(data))
        except expected:
            Stats.rejected += 1
            return
        except Exception as exc:  # PIL wraps plugin errors in its own; only for the plugin
            if target is pillow and isinstance(exc.__cause__ or exc.__context__, expected):
                Stats.rejected += 1
                return
            raise
        Stats.decoded += 1

    return one_input


def write_seeds(folder: Path) -> None:
    """Small valid files: several sizes, qualities, ROI and the GAN decoder, with and without CRC."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("seed-*"):
        old.unlink()
    rng = np.random.default_rng(0)
    cases = [
        ((1, 1), 1, {}),
        ((9, 13), 3, {}),
        ((64, 64), 1, {"roi": (8, 8, 32, 32), "roi_levels": (1.0, -0.5)}),
        ((16, 70), 2, {"model": "gan"}),
        ((33, 20), 6, {}),
    ]
    for k, ((h, w), quality, kwargs) in enumerate(cases):
        base = rng.integers(0, 256, 3)
        noise = rng.integers(-20, 21, (h, w, 3))
        rgb = np.clip(base + noise, 0, 255).astype(np.uint8)
        data = _codec().compress(rgb, quality=quality, **kwargs)
        (folder / f"seed-{k}-raw").write_bytes(bytes([0]) + data)
        (folder / f"seed-{k}-fixcrc").write_bytes(bytes([FIX_CRC | (k % 2) << 2]) + data[:-4])


def seeds(folder: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()]


def mutate(seed: bytes, rng: random.Random) -> bytes:
    data = bytearray(seed)
    for _ in range(rng.randint(1, 6)):
        kind = rng.randrange(6)
        pos = rng.randrange(1, max(2, len(data)))
        if kind == 0 and len(data) > 1:
            data[pos % len(data)] ^= 1 << rng.randrange(8)
        elif kind == 1 and len(data) > 1:
            data[pos % len(data)] = rng.choice([0, 1, 0x7F, 0x80, 0xFF, rng.randrange(256)])
        elif kind == 2:
            del data[pos:]
        elif kind == 3:
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif kind == 4:
            del data[pos : pos + rng.randint(1, 16)]
        else:
            data[0] = rng.randrange(256)
    return bytes(data)


def run_random(one_input: Callable[[bytes], None], corpus: list[bytes], seconds: float, seed: int) -> None:
    rng = random.Random(seed)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(100):
            one_input(mutate(rng.choice(corpus), rng))


def run_atheris(one_input: Callable[[bytes], None], seconds: float, corpus: Path, extra: list[str]) -> None:
    import atheris

    options = [f"-max_total_time={int(seconds)}", "-timeout=30", *extra]
    atheris.Setup([sys.argv[0], *options, str(corpus), str(SEED_CORPUS)], one_input)
    atheris.Fuzz()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--driver", choices=["atheris", "random"], default=None)
    parser.add_argument("--seed", type=int, default=0, help="random driver's seed")
    parser.add_argument("--corpus", type=Path, default=None, help="atheris work corpus (default: temporary)")
    parser.add_argument("--rss-limit-mb", type=int, default=2048)
    parser.add_argument("--replay", type=Path, default=None, help="run every file of a folder once")
    parser.add_argument(
        "--write-seeds", action="store_true", help=f"regenerate {SEED_CORPUS.relative_to(ROOT)}"
    )
    args, extra = parser.parse_known_args()
    if args.write_seeds:
        write_seeds(SEED_CORPUS)
        return
    driver = args.driver
    if driver is None and args.replay is None:
        try:
            import atheris  # noqa: F401

            driver = "atheris"
        except ImportError:
            driver = "random"
    if driver == "atheris":
        import atheris

        with atheris.instrument_imports(include=["neuralcodec"]):
            _codec().compress  # noqa: B018  (imports neuralcodec.codec and its stages)
    pillow = _pillow_open()
    if pillow is None:
        print("fuzz_python: no Pillow plugin registers NFC; fuzzing decompress and inspect", flush=True)
    one_input = make_one_input(pillow)
    if args.replay is not None:
        for data in seeds(args.replay):
            one_input(data)
        print(
            f"fuzz_python: replayed {Stats.inputs} inputs: {Stats.decoded} decoded, {Stats.rejected} rejected"
        )
        return
    start = time.monotonic()
    atexit.register(
        lambda: print(
            f"fuzz_python ({driver}): {Stats.inputs} inputs, {Stats.decoded} decoded, {Stats.rejected} "
            f"rejected with NfcError/InvalidOption ({time.monotonic() - start:.0f} s)",
            flush=True,
        )
    )
    if driver == "atheris":
        corpus = args.corpus or Path(tempfile.mkdtemp(prefix="fuzz_python_"))
        corpus.mkdir(parents=True, exist_ok=True)
        run_atheris(one_input, args.seconds, corpus, [f"-rss_limit_mb={args.rss_limit_mb}", *extra])
    else:
        if extra:
            parser.error(f"unrecognised arguments: {' '.join(extra)}")
        run_random(one_input, seeds(SEED_CORPUS), args.seconds, args.seed)


if __name__ == "__main__":
    main()
