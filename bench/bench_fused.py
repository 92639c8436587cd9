"""Fused deconv + IGDN (torch.ops.neuralcodec.deconv_igdn) against the unfused PyTorch layers.

    nice -n 19 python -m pytest bench/bench_fused.py --benchmark-group-by=group \
        --benchmark-columns=min,median,mean,rounds --benchmark-sort=name

Shapes of face-hyperprior-v1's synthesis transform (N=64, M=128), real weights, random
latents: a 128x128 face (8x8 latent) and a 512x768 image (32x48 latent); per size the whole
synthesis transform and its largest deconv + IGDN unit. Every group times ``fused`` and
``unfused`` side by side; the table's parenthesised factors are the ratios, and each fused
benchmark stores ``speedup`` (unfused mean / fused mean) in its extra_info. CPU always, CUDA
when available (synchronised around every call).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch

from neuralcodec.models.registry import load_model
from neuralcodec.transforms.fused import deconv_igdn, fused_op_available

ROOT = Path(__file__).resolve().parent.parent
LATENTS = {"128x128": (8, 8), "512x768": (32, 48)}
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

_unfused_means: dict[str, float] = {}


def _git_sha() -> str:
    run = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    return run.stdout.strip() or "unknown"


@pytest.fixture(scope="module")
def synthesis():
    return load_model("cvae").synthesis


def _provenance(benchmark, device: str) -> None:
    benchmark.extra_info.update(
        torch=torch.__version__,
        git=_git_sha(),
        threads=torch.get_num_threads(),
        device=torch.cuda.get_device_name() if device == "cuda" else "cpu",
    )


def _run(benchmark, group: str, fused: bool, device: str, function):
    if fused and not fused_op_available(device):
        pytest.skip(f"neuralcodec._C has no fused op for {device}")
    _provenance(benchmark, device)

    def call():
        out = function()
        if device == "cuda":
            torch.cuda.synchronize()
        return out

    benchmark.pedantic(call, rounds=_rounds(device), warmup_rounds=2)
    mean = benchmark.stats.stats.mean
    if not fused:
        _unfused_means[group] = mean
    elif group in _unfused_means:
        benchmark.extra_info["speedup"] = round(_unfused_means[group] / mean, 3)


def _rounds(device: str) -> int:
    return 50 if device == "cuda" else 10


def _latent(size: str, device: str) -> torch.Tensor:
    h, w = LATENTS[size]
    return torch.randn(1, 128, h, w, generator=torch.Generator().manual_seed(0)).to(device)


# The top parametrize varies fastest, so each group's unfused run comes right before its fused one.
@pytest.mark.parametrize("fused", [False, True], ids=["unfused", "fused"])
@pytest.mark.parametrize("size", list(LATENTS))
@pytest.mark.parametrize("device", DEVICES)
def test_synthesis(benchmark, synthesis, device, size, fused):
    group = f"synthesis-{device}-{size}"
    benchmark.group = group
    net = synthesis.to(device)
    y = _latent(size, device)
    _run(benchmark, group, fused, device, lambda: net.infer(y, fused=fused))
    synthesis.to("cpu")


@pytest.mark.parametrize("fused", [False, True], ids=["unfused", "fused"])
@pytest.mark.parametrize("size", list(LATENTS))
@pytest.mark.parametrize("device", DEVICES)
def test_largest_unit(benchmark, synthesis, device, size, fused):
    """The third deconv + IGDN unit: 64 -> 64 channels at 1/2 of the image size."""
    group = f"unit3-{device}-{size}"
    benchmark.group = group
    deconv, gdn = synthesis[4].to(device), synthesis[5].to(device)
    h, w = LATENTS[size]
    x = torch.randn(1, 64, 4 * h, 4 * w, generator=torch.Generator().manual_seed(1)).to(device)
    with torch.no_grad():
        _run(benchmark, group, fused, device, lambda: deconv_igdn(x, deconv, gdn, fused))
    synthesis.to("cpu")
