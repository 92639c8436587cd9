"""The fused deconv + IGDN op (neuralcodec._C, csrc/fused/) against the unfused PyTorch layers.

Tolerance: float32, |fused - reference| <= FUSED_ATOL + FUSED_RTOL * |reference| (1e-5, 1e-4),
on every available device; decoded 8-bit pixels within one level.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from neuralcodec.errors import ExtensionNotBuilt
from neuralcodec.models.registry import load_model
from neuralcodec.transforms import fused as fused_module
from neuralcodec.transforms.fused import (
    FUSED_ATOL,
    FUSED_RTOL,
    deconv_igdn,
    deconv_igdn_reference,
    fused_deconv_igdn,
    fused_op_available,
    igdn_parameters,
)
from neuralcodec.transforms.gdn import GDN

CUDA = pytest.param(
    "cuda",
    marks=[
        pytest.mark.cuda,
        pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
    ],
)
DEVICES = ["cpu", CUDA]

# (batch, in_ch, height, width, out_ch, kernel, stride, padding, output_padding)
SHAPES = [
    (1, 128, 8, 8, 64, 5, 2, 2, 1),  # first synthesis unit of a 128x128 face
    (2, 64, 16, 12, 64, 5, 2, 2, 1),  # batch, non-square
    (1, 64, 9, 7, 64, 5, 2, 2, 1),  # 18x14 output: a part-filled last pixel block
    (1, 3, 7, 5, 5, 3, 1, 1, 0),  # stride 1, channels not a multiple of 4
    (3, 16, 5, 6, 13, 4, 3, 1, 2),  # stride 3, even kernel, odd channels
    (1, 8, 1, 1, 6, 5, 2, 2, 1),  # one input pixel
    (1, 4, 3, 2, 130, 3, 2, 0, 0),  # more channels than one register pass
]


@pytest.fixture(autouse=True)
def _exact_cuda_reference():
    """Keep TF32 out of the CUDA reference: its 10-bit mantissa is far outside the tolerance."""
    with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        yield


def _skip_unless_built(device: str) -> None:
    if not fused_op_available(device):
        pytest.skip(f"neuralcodec._C was built without the fused op for {device}")


def _random_problem(shape, device, seed=0):
    n, cin, h, w, cout, k, stride, padding, output_padding = shape
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, cin, h, w, generator=g)
    weight = torch.randn(cin, cout, k, k, generator=g) / (cin * k * k / stride**2) ** 0.5
    bias = torch.randn(cout, generator=g) * 0.1
    beta = torch.rand(cout, generator=g) + 0.5
    gamma = torch.rand(cout, cout, generator=g) * 0.2 / cout**0.5
    tensors = [t.to(device) for t in (x, weight, bias, beta, gamma)]
    return (*tensors, (stride, stride), (padding, padding), (output_padding, output_padding))


def _assert_close(actual, expected):
    torch.testing.assert_close(actual, expected, rtol=FUSED_RTOL, atol=FUSED_ATOL)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_fused_matches_reference_on_random_inputs(shape, device):
    _skip_unless_built(device)
    args = _random_problem(shape, device)
    out = fused_deconv_igdn(*args)
    _assert_close(out, deconv_igdn_reference(*args))
    assert out.shape == deconv_igdn_reference(*args).shape and out.is_contiguous()


@pytest.mark.parametrize("device", DEVICES)
def test_reference_is_the_igdn_layer(device):
    """The reference is what ConvTranspose2d + GDN(inverse=True) compute, reparametrisation included."""
    deconv = nn.ConvTranspose2d(16, 12, 5, stride=2, padding=2, output_padding=1).to(device)
    gdn = GDN(12, inverse=True).to(device)
    with torch.no_grad():
        gdn.gamma.uniform_(0.0, 0.5)
        gdn.beta.uniform_(-0.1, 1.5)  # negative entries exercise the lower bound
        x = torch.randn(2, 16, 6, 5, device=device)
        beta, gamma = igdn_parameters(gdn)
        expected = gdn(deconv(x))
        reference = deconv_igdn_reference(
            x, deconv.weight, deconv.bias, beta, gamma, deconv.stride, deconv.padding, deconv.output_padding
        )
        _assert_close(reference, expected)
        if fused_op_available(device):
            _assert_close(deconv_igdn(x, deconv, gdn, fused=True), expected)


@pytest.fixture(scope="module")
def model():
    return load_model("cvae")


@pytest.fixture(scope="module")
def real_latent(model, face) -> torch.Tensor:
    """Quantised latent of the example face at level index 4, as the decoder sees it."""
    x = torch.from_numpy(face).permute(2, 0, 1)[None].float() / 255
    level_index = torch.tensor([4])
    with torch.no_grad():
        y = model.analysis(x) * model.gains.gain(level_index)
        return torch.round(y) * model.gains.inverse_gain(level_index)


@pytest.mark.parametrize("device", DEVICES)
def test_fused_matches_the_model_layers(model, real_latent, device):
    _skip_unless_built(device)
    layers = list(model.synthesis.to(device))
    x = real_latent.to(device)
    try:
        with torch.no_grad():
            for deconv, gdn in zip(layers[:-1:2], layers[1::2], strict=True):
                expected = gdn(deconv(x))
                _assert_close(deconv_igdn(x, deconv, gdn, fused=True), expected)
                x = expected
    finally:
        model.synthesis.to("cpu")


def _to_8bit(x_hat: torch.Tensor) -> np.ndarray:
    return (x_hat.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy().astype(np.int16)


@pytest.mark.parametrize("device", DEVICES)
def test_fused_decoder_matches_unfused_pixels(model, real_latent, device):
    _skip_unless_built(device)
    synthesis = model.synthesis.to(device)
    try:
        y = torch.cat([real_latent, torch.roll(real_latent, 3, dims=-1)]).to(device)
        fused = _to_8bit(synthesis.infer(y, fused=True))
        unfused = _to_8bit(synthesis.infer(y, fused=False))
    finally:
        model.synthesis.to("cpu")
    assert np.abs(fused - unfused).max() <= 1
    assert np.mean(fused != unfused) < 1e-3
    with torch.no_grad():
        assert np.array_equal(unfused, _to_8bit(synthesis(y.cpu())))


@pytest.mark.parametrize("enabled", [True, False])
def test_inference_default_is_the_fused_path_only_where_enabled(model, real_latent, monkeypatch, enabled):
    _skip_unless_built("cpu")
    calls = []
    real_op = fused_module.fused_deconv_igdn

    def spy(*args, **kwargs):
        calls.append(args[0].shape)
        return real_op(*args, **kwargs)

    monkeypatch.setattr(fused_module, "fused_deconv_igdn", spy)
    monkeypatch.setitem(fused_module.FUSED_BY_DEFAULT, "cpu", enabled)
    with torch.no_grad():
        default = model.synthesis.infer(real_latent)
        layers = model.synthesis(real_latent)
    assert len(calls) == (3 if enabled else 0)  # one per deconv + IGDN pair, or none
    torch.testing.assert_close(default, layers, rtol=fused_module.FUSED_RTOL, atol=fused_module.FUSED_ATOL)


def test_fused_op_is_identical_with_one_or_two_threads():
    _skip_unless_built("cpu")
    script = (
        "import sys, hashlib, torch; torch.set_num_threads(int(sys.argv[1]));"
        "import neuralcodec._C; g = torch.Generator().manual_seed(0);"
        "x = torch.randn(2, 64, 23, 37, generator=g); w = torch.randn(64, 64, 5, 5, generator=g) / 40;"
        "b = torch.randn(64, generator=g); beta = torch.rand(64, generator=g) + 0.5;"
        "gamma = torch.rand(64, 64, generator=g) / 40;"
        "out = torch.ops.neuralcodec.deconv_igdn(x, w, b, beta, gamma, [2, 2], [2, 2], [1, 1]);"
        "print(hashlib.sha256(out.numpy().tobytes()).hexdigest())"
    )
    outs = [
        subprocess.run(
            [sys.executable, "-c", script, str(n)], capture_output=True, text=True, check=True
        ).stdout
        for n in (1, 2)
    ]
    assert outs[0] == outs[1] and len(outs[0].strip()) == len(hashlib.sha256().hexdigest())


def _bad(args, **changes):
    names = ("x", "weight", "bias", "beta", "gamma", "stride", "padding", "output_padding")
    values = dict(zip(names, args, strict=True))
    values.update(changes)
    return [values[n] for n in names]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "change, error, message",
    [
        (lambda a: {"x": a[0].double()}, TypeError, "x must be float32"),
        (lambda a: {"gamma": a[4].half()}, TypeError, "gamma must be float32"),
        (lambda a: {"x": a[0][0]}, ValueError, "x must be 4-D"),
        (lambda a: {"weight": a[1][:, :, 0]}, ValueError, "weight must be 4-D"),
        (lambda a: {"x": a[0][:, :5]}, ValueError, "weight expects"),
        (lambda a: {"bias": a[2][:-1]}, ValueError, "bias must have shape"),
        (lambda a: {"beta": a[3][None]}, ValueError, "beta must have shape"),
        (lambda a: {"gamma": a[4][:, :-1]}, ValueError, "gamma must have shape"),
        (lambda a: {"stride": (0, 2)}, ValueError, "stride must be >= 1"),
        (lambda a: {"padding": (-1, 2)}, ValueError, "padding must be >= 0"),
        (lambda a: {"output_padding": (2, 1)}, ValueError, "output_padding must be smaller"),
        (lambda a: {"padding": (20, 20)}, ValueError, "empty output"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_bad_arguments_raise_clear_errors(change, error, message, device):
    _skip_unless_built(device)
    args = _random_problem(SHAPES[1], device)
    with pytest.raises(error, match=message):
        fused_deconv_igdn(*_bad(args, **change(args)))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_tensors_on_two_devices_are_rejected():
    _skip_unless_built("cuda")
    args = _random_problem(SHAPES[1], "cuda")
    with pytest.raises(ValueError, match="is on cpu but x is on cuda"):
        fused_deconv_igdn(*_bad(args, gamma=args[4].cpu()))


def test_forcing_the_fused_path_without_the_op_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(fused_module, "fused_op_available", lambda device: False)
    with pytest.raises(ExtensionNotBuilt, match="no fused deconv_igdn kernel"):
        fused_module.fused_deconv_igdn(*_random_problem(SHAPES[0], "cpu"))
