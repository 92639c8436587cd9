"""Faces/s of compress_batch / decompress_batch against a Python loop of compress / decompress.

    nice -n 19 python -m pytest bench/bench_batch.py --benchmark-group-by=group \\
        --benchmark-columns=min,median,mean,rounds --benchmark-sort=name

64 faces of 128x128 (the first of ../shared/data/faces/test; skipped where absent) at the
default quality, one torch thread (on this 2-core machine under load, 2 threads code a face
3-4x slower: issue 13). Each group times the loop and the batch call side by side; each
benchmark stores faces/s (from its best round) in its extra_info, and at the end a table of
faces/s and the batch/loop ratio is printed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import neuralcodec

FACES = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "faces" / "test"
COUNT = 64
ROUNDS = 5

_best: dict[tuple[str, str], float] = {}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def faces() -> list[np.ndarray]:
    paths = sorted(FACES.glob("*.png"))[:COUNT] if FACES.is_dir() else []
    if len(paths) < COUNT:
        pytest.skip(f"needs {COUNT} faces in {FACES}")
    return [np.asarray(Image.open(p).convert("RGB")) for p in paths]


@pytest.fixture(scope="module")
def files(faces) -> list[bytes]:
    return neuralcodec.compress_batch(faces)


def _timed(benchmark, group: str, how: str, function, *args):
    benchmark.extra_info.update(threads=torch.get_num_threads(), faces=COUNT)
    result = benchmark.pedantic(function, args=args, rounds=ROUNDS, warmup_rounds=1)
    best = benchmark.stats.stats.min
    _best[(group, how)] = best
    benchmark.extra_info["faces_per_s"] = round(COUNT / best, 2)
    return result


@pytest.mark.benchmark(group="encode-64-faces")
def test_encode_loop(benchmark, faces, files):
    out = _timed(benchmark, "encode", "loop", lambda fs: [neuralcodec.compress(f) for f in fs], faces)
    assert out == files


@pytest.mark.benchmark(group="encode-64-faces")
def test_encode_batch(benchmark, faces, files):
    assert _timed(benchmark, "encode", "batch", neuralcodec.compress_batch, faces) == files


@pytest.mark.benchmark(group="decode-64-faces")
def test_decode_loop(benchmark, files):
    out = _timed(benchmark, "decode", "loop", lambda fs: [neuralcodec.decompress(f) for f in fs], files)
    assert len(out) == COUNT


@pytest.mark.benchmark(group="decode-64-faces")
def test_decode_batch(benchmark, files):
    out = _timed(benchmark, "decode", "batch", neuralcodec.decompress_batch, files)
    assert [np.asarray(i).tobytes() for i in out] == [
        np.asarray(neuralcodec.decompress(f)).tobytes() for f in files
    ]


@pytest.fixture(scope="module", autouse=True)
def ratio_report(request):
    """After the module: faces/s of loop and batch, and their ratio (best rounds)."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    lines = ["", f"faces/s, {COUNT} faces 128x128, best of {ROUNDS} rounds:"]
    for group in ("encode", "decode"):
        loop, batch = _best.get((group, "loop")), _best.get((group, "batch"))
        if loop and batch:
            lines.append(
                f"  {group}: loop {COUNT / loop:6.1f}  batch {COUNT / batch:6.1f}  ratio {loop / batch:.2f}x"
            )
    for line in lines:
        if reporter is not None:
            reporter.write_line(line)
        else:
            print(line)
