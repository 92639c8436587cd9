"""Encode and decode time per megapixel and peak memory of large images (tiled coding).

Time per Mpx, pytest-benchmark (one round each; the images are mosaics of the hires training
faces, built in memory, never saved)::

    python -m pytest bench/bench_tiles.py --benchmark-columns=median,rounds --benchmark-sort=name

The table of peak RSS and time at 1, 4 and 24 Mpx, each encode and decode in a fresh process
whose peak is read from /proc/self/status (VmHWM: ``ru_maxrss`` would include the peak of the
parent it was forked from)::

    python bench/bench_tiles.py                    # 1, 4, 24 Mpx at quality 6
    python bench/bench_tiles.py --mpx 1 4 --quality 6 --threads 1
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import neuralcodec
from neuralcodec.imaging import image_files

HIRES = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "faces" / "hires" / "train"

#: (width, height) per size: 1000 x 1000, 2000 x 2000, 6000 x 4000 (a phone photo).
SIZES = {1: (1000, 1000), 4: (2000, 2000), 24: (6000, 4000)}


def mosaic(width: int, height: int, folder: Path = HIRES) -> np.ndarray:
    """uint8 [height, width, 3]: the 512 x 512 faces of ``folder`` side by side, row by row."""
    files = image_files(folder)
    rows, cols = -(-height // 512), -(-width // 512)
    out = np.empty((rows * 512, cols * 512, 3), dtype=np.uint8)
    for k in range(rows * cols):
        face = np.asarray(Image.open(files[k % len(files)]).convert("RGB").resize((512, 512)))
        r, c = divmod(k, cols)
        out[r * 512 : (r + 1) * 512, c * 512 : (c + 1) * 512] = face
    return np.ascontiguousarray(out[:height, :width])


@pytest.fixture(scope="module")
def images() -> dict[int, np.ndarray]:
    if not HIRES.is_dir():
        pytest.skip(f"hires faces not found at {HIRES}")
    return {mpx: mosaic(*SIZES[mpx]) for mpx in (1, 4)}


@pytest.mark.benchmark(group="tiles-encode")
@pytest.mark.parametrize("mpx", [1, 4])
def test_encode_per_mpx(benchmark, images, mpx):
    data = benchmark.pedantic(neuralcodec.compress, (images[mpx],), {"quality": 6}, rounds=1)
    benchmark.extra_info["seconds_per_mpx"] = benchmark.stats.stats.median / (images[mpx].size / 3e6)
    assert data[:3] == b"NFC"


@pytest.mark.benchmark(group="tiles-decode")
@pytest.mark.parametrize("mpx", [1, 4])
def test_decode_per_mpx(benchmark, images, mpx):
    data = neuralcodec.compress(images[mpx], quality=6)
    img = benchmark.pedantic(neuralcodec.decompress, (data,), rounds=1)
    benchmark.extra_info["seconds_per_mpx"] = benchmark.stats.stats.median / (images[mpx].size / 3e6)
    assert img.size == (images[mpx].shape[1], images[mpx].shape[0])


_WORKER = """
import json, sys, time
import torch
if {threads}:
    torch.set_num_threads({threads})
import neuralcodec
from PIL import Image
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
start = hwm()
t = time.perf_counter()
if {encode}:
    data = neuralcodec.compress({source!r}, quality={quality})
    open({target!r}, "wb").write(data)
else:
    neuralcodec.decompress({source!r}).save({target!r})
print(json.dumps({{"seconds": time.perf_counter() - t, "peak": hwm(), "start": start}}))
"""


def _measure(encode: bool, source: Path, target: Path, quality: int, threads: int) -> dict:
    code = _WORKER.format(
        encode=encode, source=str(source), target=str(target), quality=quality, threads=threads
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mpx", type=int, nargs="+", default=sorted(SIZES), choices=sorted(SIZES))
    parser.add_argument("--quality", type=int, default=6)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args(argv)
    columns = ["size", "Mpx", "file bytes", "encode s", "encode s/Mpx", "encode peak MB"]
    columns += ["decode s", "decode s/Mpx", "decode peak MB"]
    print("| " + " | ".join(columns) + " |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for mpx in args.mpx:
            width, height = SIZES[mpx]
            source, coded, decoded = Path(tmp, "in.png"), Path(tmp, "in.nfc"), Path(tmp, "out.png")
            Image.fromarray(mosaic(width, height)).save(source, compress_level=1)
            enc = _measure(True, source, coded, args.quality, args.threads)
            dec = _measure(False, coded, decoded, args.quality, args.threads)
            real = width * height / 1e6
            print(
                f"| {width}x{height} | {real:g} | {coded.stat().st_size} | {enc['seconds']:.1f} | "
                f"{enc['seconds'] / real:.2f} | {enc['peak'] / 1e6:.0f} | {dec['seconds']:.1f} | "
                f"{dec['seconds'] / real:.2f} | {dec['peak'] / 1e6:.0f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
