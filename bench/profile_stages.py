"""Where a 128x128 face's encode and decode time goes (v2, quality 6), and what each transform costs.

    python bench/profile_stages.py              # 2 torch threads, 200 rounds after 20 warm-up calls
    python bench/profile_stages.py --threads 1 --rounds 500

Prints, for ``neuralcodec.compress`` and ``neuralcodec.decompress`` of the bundled example face,
the median milliseconds per call of each stage and its share of the summed time:

================================  ==========================================================
stage                             what is timed
================================  ==========================================================
analysis                          ``model.analysis`` (g_a: 3 convs + GDNs)
hyper analysis                    ``model.hyper_analysis`` (h_a)
hyper synthesis + entropy params  ``model._entropy_parameters``: float64 h_s, CDF table index
rANS encode / rANS decode         the entropy coder calls (hyper and latent streams)
synthesis                         ``model.synthesis.infer`` (g_s, fused deconv + IGDN)
PIL/numpy conversion              ``imaging.load_rgb``, ``to_padded_tensor``, ``to_image``
container                         ``pack`` / ``unpack`` of the .nfc file (header, CRC)
other                             the rest of the call: Python glue, medians, gains, crops
================================  ==========================================================

Each stage is timed by wrapping the function above with a timer for the run (a stage inside
itself counts once), so the numbers include a few microseconds of timer per wrapped call.
Then the multiply-accumulates per image pixel of each transform, counted from the layer shapes
of one forward pass (convolutions, transposed convolutions, and GDN's 1x1 channel mixing;
biases, activations and GDN's square root left out). Names that an older checkout lacks are
skipped, so the same file can profile a before/after pair in one session.

The numbers say something only on a quiet machine: name it (CPU, cores, threads) with them.
Latency itself is benchmarked by bench/bench_latency.py (pytest-benchmark).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

import neuralcodec
from neuralcodec import codec, imaging
from neuralcodec.models import hyperprior
from neuralcodec.models.registry import load_model

FACE = Path(__file__).resolve().parent.parent / "docs" / "example" / "face.png"
QUALITY = 6
MODEL = "cvae"  # face-hyperprior-v2, the default model

CONVERSION = "PIL/numpy conversion"
CONTAINER = "container"


def face() -> np.ndarray:
    return np.asarray(Image.open(FACE).convert("RGB"))


def stage_targets(model) -> list[tuple[object, str, str]]:
    """(owner, attribute, stage) of every function timed, under its current and older names."""
    return [
        (codec, "unpack", CONTAINER),
        (codec, "pack", CONTAINER),
        (imaging, "load_rgb", CONVERSION),
        (imaging, "to_padded_tensor", CONVERSION),
        (imaging, "to_image", CONVERSION),
        (model.analysis, "forward", "analysis"),
        (model.hyper_analysis, "forward", "hyper analysis"),
        (model, "_entropy_parameters", "hyper synthesis + entropy params"),
        (model, "_mean_scale", "hyper synthesis + entropy params"),
        (hyperprior, "encode_symbols_batch", "rANS encode"),
        (hyperprior, "encode_symbols", "rANS encode"),
        (hyperprior, "decode_symbols_batch", "rANS decode"),
        (hyperprior, "decode_symbols", "rANS decode"),
        (model.synthesis, "infer", "synthesis"),
    ]


@contextmanager
def stage_timers(model, totals: dict[str, float]) -> Iterator[None]:
    """Within the block, the seconds spent in each stage accumulate in ``totals``."""
    saved = []
    depth: dict[str, int] = defaultdict(int)
    for owner, name, stage in stage_targets(model):
        if not hasattr(owner, name):  # a name this version does not have
            continue
        original = getattr(owner, name)
        saved.append((owner, name, original, name in vars(owner)))

        def timed(*args, _f: Callable = original, _stage: str = stage, **kwargs):
            depth[_stage] += 1
            start = time.perf_counter()
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


def profile(model, fn: Callable[[], object], rounds: int, warmup: int) -> tuple[float, dict[str, tuple]]:
    """(median ms of a whole call, {stage: (median ms per call, share of the summed time)})."""
    for _ in range(warmup):
        fn()
    wholes: list[float] = []
    per_round: list[dict[str, float]] = []
    for _ in range(rounds):
        totals: dict[str, float] = defaultdict(float)
        with stage_timers(model, totals):
            start = time.perf_counter()
            fn()
            wholes.append(time.perf_counter() - start)
        totals["other"] = wholes[-1] - sum(totals.values())
        per_round.append(totals)
    stages = sorted({s for r in per_round for s in r}, key=lambda s: -sum(r.get(s, 0.0) for r in per_round))
    stages.remove("other")
    summed = sum(wholes)
    table = {
        stage: (
            statistics.median(r.get(stage, 0.0) for r in per_round) * 1e3,
            sum(r.get(stage, 0.0) for r in per_round) / summed,
        )
        for stage in [*stages, "other"]
    }
    return statistics.median(wholes) * 1e3, table


def layer_macs(module: nn.Module, run: Callable[[], object]) -> int:
    """Multiply-accumulates of ``run()`` (one image) in ``module``'s convolutions and GDNs,
    from the shapes each layer sees."""
    from neuralcodec.transforms.gdn import GDN

    macs = 0

    def count(layer: nn.Module, inputs: tuple, output) -> None:
        nonlocal macs
        x = inputs[0]
        if isinstance(layer, nn.Conv2d):  # each output value: in/groups * kh * kw products
            kh, kw = layer.kernel_size
            macs += output[0].numel() * layer.in_channels // layer.groups * kh * kw
        elif isinstance(layer, nn.ConvTranspose2d):  # each input value scatters to out * kh * kw
            kh, kw = layer.kernel_size
            macs += x[0].numel() * layer.out_channels // layer.groups * kh * kw
        elif isinstance(layer, GDN):  # a C x C channel mix (1x1 conv) at every position
            macs += x[0].numel() * x.shape[1]

    hooks = [
        m.register_forward_hook(count)
        for m in module.modules()
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, GDN))
    ]
    try:
        with torch.no_grad():
            run()
    finally:
        for hook in hooks:
            hook.remove()
    return macs


def macs_per_pixel(model, rgb: np.ndarray) -> dict[str, float]:
    x = imaging.to_padded_tensor(rgb, hyperprior.STRIDE)
    pixels = x.shape[2] * x.shape[3]
    with torch.no_grad():
        y = model.analysis(x)
        z = model.hyper_analysis(y)
    return {
        name: layer_macs(module, lambda m=module, v=value: m(v)) / pixels
        for name, module, value in (
            ("analysis", model.analysis, x),
            ("hyper analysis", model.hyper_analysis, y),
            ("hyper synthesis", model.hyper_synthesis, z),
            ("synthesis", model.synthesis, y),  # forward: the same layers as infer, unfused
        )
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--rounds", type=int, default=200, help="timed calls per direction (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed calls first (default 20)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(MODEL)
    rgb = face()
    data = neuralcodec.compress(rgb, quality=QUALITY)
    height, width = rgb.shape[:2]
    print(
        f"neuralcodec {neuralcodec.__version__} ({Path(neuralcodec.__file__).parent}), torch "
        f"{torch.__version__}, {args.threads} thread(s), {platform.processor() or platform.machine()}; "
        f"{width}x{height} face, quality {QUALITY}, {len(data)} bytes; "
        f"medians of {args.rounds} calls after {args.warmup}"
    )
    macs = macs_per_pixel(model, rgb)
    total = sum(macs.values())
    gmac = total * width * height / 1e9
    print(f"\nMACs per pixel ({width}x{height}): total {total:,.0f} ({gmac:.3f} GMAC)")
    for name, value in macs.items():
        print(f"  {name:<34} {value:>9,.0f}")
    hyper = macs["hyper synthesis"]  # both directions run it (the decoder needs the same scales)
    print(f"  {'encode (g_a + h_a + h_s)':<34} {macs['analysis'] + macs['hyper analysis'] + hyper:>9,.0f}")
    print(f"  {'decode (h_s + g_s)':<34} {hyper + macs['synthesis']:>9,.0f}")
    for what, fn in (
        ("encode", lambda: neuralcodec.compress(rgb, quality=QUALITY)),
        ("decode", lambda: neuralcodec.decompress(data)),
    ):
        whole, table = profile(model, fn, args.rounds, args.warmup)
        print(f"\n{what}: median {whole:.2f} ms per call")
        print(f"  {'stage':<34} {'median ms':>9} {'share':>6}")
        for stage, (ms, share) in table.items():
            print(f"  {stage:<34} {ms:>9.3f} {share:>6.1%}")


if __name__ == "__main__":
    main()
