"""In-process latency of one 128x128 face (quality 6), and where the time goes.

    python -m pytest bench/bench_latency.py --benchmark-columns=median,iqr,rounds \
        --benchmark-group-by=group --benchmark-sort=name        # encode / decode, 1 and 2 threads
    python bench/bench_latency.py                               # MACs per pixel, share per stage

Medians over many rounds after warm-up. The stage table wraps the model's stages with
timers (analysis, hyper analysis, float64 hyper synthesis + table index, rANS, synthesis,
image conversion, container) over repeated calls; "other" is the rest of ``compress`` /
``decompress``. It uses only names that earlier versions also have, so the same file can
time an older checkout for a before/after comparison in one session.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import neuralcodec
from neuralcodec import codec, imaging
from neuralcodec.models import hyperprior
from neuralcodec.models.registry import load_model

FACE = Path(__file__).resolve().parent.parent / "docs" / "example" / "face.png"
QUALITY = 6


def face() -> np.ndarray:
    return np.asarray(Image.open(FACE).convert("RGB"))


@pytest.fixture(params=[1, 2], ids=lambda t: f"{t}threads")
def threads(request) -> Iterator[int]:
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


@pytest.mark.benchmark(group="decode-128x128", warmup=True, warmup_iterations=20)
def test_decode(benchmark, threads):
    data = neuralcodec.compress(face(), quality=QUALITY)
    assert benchmark(neuralcodec.decompress, data).size == (128, 128)


@pytest.mark.benchmark(group="encode-128x128", warmup=True, warmup_iterations=20)
def test_encode(benchmark, threads):
    rgb = face()
    assert benchmark(neuralcodec.compress, rgb, quality=QUALITY)[:3] == b"NFC"


@contextmanager
def stage_timers(totals: dict[str, float]) -> Iterator[None]:
    """Within the block, time spent in each stage accumulates in ``totals`` (seconds)."""
    model = load_model("cvae")
    targets: list[tuple[object, str, str]] = [
        (codec, "unpack", "container"),
        (codec, "pack", "container"),
        (imaging, "load_rgb", "image in/out"),
        (imaging, "to_padded_tensor", "image in/out"),
        (imaging, "to_image", "image in/out"),
        (model.analysis, "forward", "analysis"),
        (model.hyper_analysis, "forward", "hyper analysis"),
        (model, "_entropy_parameters", "hyper synthesis (float64) + index"),
        (model, "_mean_scale", "hyper synthesis (float64) + index"),
        (hyperprior, "encode_symbols", "rANS"),
        (hyperprior, "decode_symbols", "rANS"),
        (model.synthesis, "infer", "synthesis"),
    ]
    saved = []
    depth: dict[str, int] = defaultdict(int)  # a stage inside itself counts once
    for owner, name, stage in targets:
        if not hasattr(owner, name):  # a name this version does not have
            continue
        original = getattr(owner, name)
        saved.append((owner, name, original, name in vars(owner)))

        def timed(*args, _f: Callable = original, _stage: str = stage, **kwargs):
            start = time.perf_counter()
            depth[_stage] += 1
            try:
                return _f(*args, **kwargs)
            finally:
                depth[_stage] -= 1
                if not depth[_stage]:
                    totals[_stage] += time.perf_counter() - start

        setattr(owner, name, timed)
    try:
        yield
    finally:
        for owner, name, original, own in reversed(saved):
            if own:
                setattr(owner, name, original)
            else:
                delattr(owner, name)


def stage_shares(fn: Callable[[], object], rounds: int = 100) -> tuple[float, dict[str, float]]:
    """(median ms of ``fn``, share of each stage in the summed time) after warm-up."""
    for _ in range(20):
        fn()
    totals: dict[str, float] = defaultdict(float)
    times = []
    with stage_timers(totals):
        for _ in range(rounds):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    whole = sum(times)
    shares = {stage: t / whole for stage, t in sorted(totals.items(), key=lambda kv: -kv[1])}
    shares["other"] = 1 - sum(shares.values())
    return statistics.median(times) * 1e3, shares


def macs_per_pixel() -> dict[str, float]:
    """Multiply-accumulates per pixel of each network of the model on a 128x128 image."""
    from torch.utils.flop_counter import FlopCounterMode

    model = load_model("cvae")
    x = imaging.to_padded_tensor(face(), hyperprior.STRIDE)
    out = {}
    with torch.no_grad():
        y = model.analysis(x)
        z = model.hyper_analysis(y)
        for name, run in (
            ("analysis", lambda: model.analysis(x)),
            ("hyper analysis", lambda: model.hyper_analysis(y)),
            ("hyper synthesis", lambda: model.hyper_synthesis(z)),
            ("synthesis", lambda: model.synthesis(y)),
        ):
            counter = FlopCounterMode(display=False)
            with counter:
                run()
            out[name] = counter.get_total_flops() / 2 / x[0, 0].numel()
    return out


def main() -> None:
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    torch.set_num_threads(threads)
    rgb = face()
    data = neuralcodec.compress(rgb, quality=QUALITY)
    print(f"{neuralcodec.__file__}, {threads} threads, 128x128 face, quality {QUALITY}")
    macs = macs_per_pixel()
    print(
        "MACs/pixel: "
        + ", ".join(f"{k} {v:,.0f}" for k, v in macs.items())
        + f"; total {sum(macs.values()):,.0f}"
    )
    for what, fn in (
        ("decode", lambda: neuralcodec.decompress(data)),
        ("encode", lambda: neuralcodec.compress(rgb, quality=QUALITY)),
    ):
        median, shares = stage_shares(fn)
        print(f"{what}: median {median:.2f} ms; " + ", ".join(f"{k} {v:.0%}" for k, v in shares.items()))


if __name__ == "__main__":
    main()
