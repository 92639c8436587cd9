"""Encode/decode speed of every codec, side by side in one process, as ratios.

    first image --warm-up, then `repeats` timed encodes and decodes--> median ms per image
    first `batch` images --encoded one after another, then decoded--> images/s
    --> speed.json, and ratios against Pillow's JPEG/WebP/AVIF and a CompressAI model

Each codec runs at the middle setting of its quality sweep (recorded). The CompressAI
reference is `MeanScaleHyperprior(64, 128)`, freshly initialised: the same size class as
nfc (N=64, M=128), and speed does not depend on training. It runs on the CPU and, when
torch sees a CUDA device, again on the GPU (nfc itself codes on the CPU only). Timings
are wall-clock (time.perf_counter) with torch's default thread count, recorded; other
load on the machine slows every codec alike only if it is steady, so read the ratios
rather than the absolute numbers, and look at the machine line.

pytest-benchmark micro-benchmarks of the hot paths stay in bench/bench_codec.py and
bench/bench_rans.py.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from PIL import Image

from neuralcodec.bench import rd
from neuralcodec.bench.codecs import DEFAULT_CONFIG, Codec, CodecConfig
from neuralcodec.bench.dataset import dataset, load_rgb
from neuralcodec.bench.peer import CompressAICodec
from neuralcodec.bench.provenance import provenance
from neuralcodec.bench.summary import markdown_table

SPEED_FILE = "speed.json"
REFERENCES = ("jpeg", "webp", "avif", "compressai-msh")
DEFAULT_REPEATS = 15
DEFAULT_WARMUP = 3
DEFAULT_BATCH = 16


def compressai_reference(device: str = "cpu") -> CompressAICodec:
    """CompressAI's mean-scale hyperprior (N=64, M=128), untrained, for timing only."""
    from compressai.models import MeanScaleHyperprior

    torch.manual_seed(0)
    name = "compressai-msh" if device == "cpu" else f"compressai-msh@{device}"
    return CompressAICodec(
        name,
        {1: MeanScaleHyperprior(64, 128)},
        {"architecture": "compressai.models.MeanScaleHyperprior(64, 128)", "weights": "untrained"},
        device=device,
    )


def _synchronized(fn: Callable[[], object], device: str) -> Callable[[], object]:
    if device == "cpu":
        return fn

    def run() -> object:
        out = fn()
        torch.cuda.synchronize()
        return out

    return run


def median_ms(fn: Callable[[], object], repeats: int, warmup: int) -> float:
    """Median milliseconds of `repeats` calls of `fn`, after `warmup` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def time_codec(
    codec: Codec, images: Sequence[Image.Image], repeats: int, warmup: int, device: str = "cpu"
) -> dict:
    """Median encode/decode ms on images[0]; images/s over all of `images`."""
    quality = codec.qualities[len(codec.qualities) // 2]
    data = codec.encode(images[0], quality)
    encode_ms = median_ms(_synchronized(lambda: codec.encode(images[0], quality), device), repeats, warmup)
    decode_ms = median_ms(_synchronized(lambda: codec.decode(data), device), repeats, warmup)
    start = time.perf_counter()
    files = [codec.encode(img, quality) for img in images]
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    for f in files:
        codec.decode(f)
    if device != "cpu":
        torch.cuda.synchronize()
    decode_s = time.perf_counter() - start
    return {
        "device": device,
        "quality": quality,
        "encode_ms": encode_ms,
        "decode_ms": decode_ms,
        "encode_images_per_s": len(images) / encode_s,
        "decode_images_per_s": len(images) / decode_s,
    }


def run(
    image_paths: Sequence[Path],
    codec_names: Sequence[str],
    out_dir: Path,
    *,
    batch: int = DEFAULT_BATCH,
    repeats: int = DEFAULT_REPEATS,
    warmup: int = DEFAULT_WARMUP,
    config: CodecConfig = DEFAULT_CONFIG,
    command: Sequence[str] = ("python", "-m", "neuralcodec.bench.speed"),
) -> dict:
    """Time the codecs (plus the Pillow and CompressAI references); writes out_dir/speed.json."""
    names = list(dict.fromkeys([*codec_names, *(r for r in REFERENCES if r != "compressai-msh")]))
    codecs, skipped = rd.resolve_codecs(names, config)
    codecs.append(compressai_reference("cpu"))
    if torch.cuda.is_available():
        codecs.append(compressai_reference("cuda"))
    images = [load_rgb(p) for p in sorted(image_paths)[:batch]]
    timings = {c.name: time_codec(c, images, repeats, warmup, getattr(c, "device", "cpu")) for c in codecs}
    results = {
        "provenance": provenance(command, dataset(image_paths, batch)),
        "method": {
            "per_image": f"median of {repeats} runs after {warmup} warm-up runs, on the first image",
            "batch": f"{len(images)} images coded one after another, wall clock",
            "torch_threads": torch.get_num_threads(),
            "quality": "the middle setting of each codec's sweep",
            "gpu": "CompressAI reference only; nfc codes on the CPU"
            if torch.cuda.is_available()
            else "not measured: no CUDA device in this run",
        },
        "skipped": skipped,
        "timings": timings,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / SPEED_FILE).write_text(json.dumps(results, indent=2) + "\n")
    return results


def render(speed: dict, level: int = 2) -> str:
    """Markdown: per-image times and images/s, then ratios against the references."""
    h = "#" * level
    timings = speed["timings"]
    method = speed["method"]
    refs = [r for r in REFERENCES if r in timings]
    lines = [
        f"{h} Speed",
        "",
        (
            f"Per image: {method['per_image']}; batch: {method['batch']}; torch threads: "
            f"{method['torch_threads']}; quality: {method['quality']}. GPU: {method['gpu']}. "
            "`compressai-msh` is CompressAI's MeanScaleHyperprior(64, 128), untrained "
            "(speed does not depend on training)."
        ),
        "",
    ]
    lines += markdown_table(
        ["codec", "device", "quality", "encode ms", "decode ms", "encode img/s", "decode img/s"],
        (
            [
                name,
                t["device"],
                t["quality"],
                f"{t['encode_ms']:.2f}",
                f"{t['decode_ms']:.2f}",
                f"{t['encode_images_per_s']:.1f}",
                f"{t['decode_images_per_s']:.1f}",
            ]
            for name, t in timings.items()
        ),
    )
    for op in ("encode", "decode"):
        lines += [
            "",
            f"{op.capitalize()} time per image as a multiple of each reference's (lower is faster):",
            "",
        ]
        lines += markdown_table(
            ["codec", *(f"× {r}" for r in refs)],
            (
                [name, *(f"{t[f'{op}_ms'] / timings[r][f'{op}_ms']:.3g}" for r in refs)]
                for name, t in timings.items()
            ),
        )
    if speed["skipped"]:
        lines += ["", *(f"- not timed, {n}: {why}" for n, why in speed["skipped"].items())]
    lines.append("")
    return "\n".join(lines)
