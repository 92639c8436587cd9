"""Transposed convolution + bias + inverse GDN as one op: the synthesis transform's repeating unit.

::

    x [N, C_in, H, W]
      -> conv_transpose2d(weight [C_in, C, kh, kw], stride, padding, output_padding) + bias[C]
      -> t [N, C, H', W']
      -> t * sqrt(beta + gamma @ t^2)          per pixel, mixing the C channels
      -> out [N, C, H', W']

``beta`` [C] and ``gamma`` [C, C] are the *effective* GDN parameters: the layer stores
reparametrised ones and recomputes them in every forward pass (:func:`igdn_parameters`).

``neuralcodec._C`` registers ``torch.ops.neuralcodec.deconv_igdn`` for CPU and, in a CUDA
build, for CUDA (csrc/fused/). Both run the transposed convolution with ATen and then one pass
that adds the bias and applies IGDN in place, so the only full-size tensor is the output;
the IGDN layer materialises x^2, the norm and its square root. The op has no autograd:
training uses the layers themselves. Float32 only.

Fused and unfused results agree within :data:`FUSED_RTOL` / :data:`FUSED_ATOL` (summation
order differs; on CUDA the reference must run with TF32 off, which torch's default
``allow_tf32`` for cuDNN convolutions would otherwise bring into the 1x1 norm convolution).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neuralcodec.errors import ExtensionNotBuilt
from neuralcodec.transforms.gdn import GDN

#: Float32 tolerance of the fused op against :func:`deconv_igdn_reference` (torch.testing style:
#: |fused - reference| <= FUSED_ATOL + FUSED_RTOL * |reference|).
FUSED_RTOL = 1e-4
FUSED_ATOL = 1e-5

#: Where the decoder uses the fused op when it is built (device type -> on by default).
#: On where bench/bench_fused.py measures it faster than the layers on the shipped models'
#: synthesis shapes (docs/kernels.md).
FUSED_BY_DEFAULT = {"cpu": True, "cuda": True}

_OP_NAME = "neuralcodec::deconv_igdn"
_DISPATCH_KEYS = {"cpu": "CPU", "cuda": "CUDA"}


def igdn_parameters(gdn: GDN) -> tuple[Tensor, Tensor]:
    """(beta [C], gamma [C, C]) exactly as ``GDN.forward`` uses them (after reparametrisation)."""
    return gdn.effective_parameters()


def deconv_igdn_reference(
    x: Tensor,
    weight: Tensor,
    bias: Tensor,
    beta: Tensor,
    gamma: Tensor,
    stride: tuple[int, int],
    padding: tuple[int, int],
    output_padding: tuple[int, int],
) -> Tensor:
    """The unfused computation, as ConvTranspose2d followed by GDN(inverse=True)."""
    t = F.conv_transpose2d(x, weight, bias, stride, padding, output_padding)
    norm = F.conv2d(t * t, gamma[:, :, None, None], beta)
    return t * torch.sqrt(norm)


def fused_op_available(device: torch.device | str) -> bool:
    """True if ``neuralcodec._C`` is built with a ``deconv_igdn`` kernel for ``device``'s type."""
    return _has_kernel(torch.device(device).type)


@functools.cache
def _has_kernel(device_type: str) -> bool:
    key = _DISPATCH_KEYS.get(device_type)
    if key is None:
        return False
    try:
        from neuralcodec import _C  # noqa: F401  (loading it registers the op)
    except ImportError:
        return False
    try:
        return torch._C._dispatch_has_kernel_for_dispatch_key(_OP_NAME, key)
    except RuntimeError:  # an older _C without the op
        return False


def fused_deconv_igdn(
    x: Tensor,
    weight: Tensor,
    bias: Tensor,
    beta: Tensor,
    gamma: Tensor,
    stride: tuple[int, int],
    padding: tuple[int, int],
    output_padding: tuple[int, int],
) -> Tensor:
    """x [N, C_in, H, W] -> IGDN(conv_transpose2d(x) + bias), with the fused op.

    weight [C_in, C, kh, kw] (ConvTranspose2d layout), bias/beta [C], gamma [C, C]; float32 on
    one device. No autograd. Raises :class:`ExtensionNotBuilt` if ``neuralcodec._C`` has no
    kernel for ``x``'s device, TypeError/ValueError for bad arguments.
    """
    if not fused_op_available(x.device):
        raise ExtensionNotBuilt(
            f"neuralcodec._C has no fused deconv_igdn kernel for {x.device.type}; "
            "build it with: pip install --no-build-isolation -e ."
        )
    return torch.ops.neuralcodec.deconv_igdn(
        x, weight, bias, beta, gamma, list(stride), list(padding), list(output_padding)
    )


def deconv_igdn(x: Tensor, deconv: nn.Module, gdn: nn.Module, fused: bool) -> Tensor:
    """``gdn(deconv(x))`` for inference, through the fused op when ``fused`` (which needs a
    ConvTranspose2d with a bias, then an inverse GDN)."""
    if not fused:
        return gdn(deconv(x))
    if not (
        isinstance(deconv, nn.ConvTranspose2d)
        and isinstance(gdn, GDN)
        and gdn.inverse
        and deconv.bias is not None
        and deconv.groups == 1
        and deconv.dilation == (1, 1)
        and deconv.padding_mode == "zeros"
        and isinstance(deconv.padding, tuple)
    ):
        raise ValueError(
            "the fused op covers ungrouped, undilated, zero-padded, biased deconv + inverse GDN only"
        )
    beta, gamma = igdn_parameters(gdn)
    s, p, o = deconv.stride, deconv.padding, deconv.output_padding
    return fused_deconv_igdn(
        x, deconv.weight, deconv.bias, beta, gamma, (s[0], s[1]), (p[0], p[1]), (o[0], o[1])
    )


def use_fused_by_default(device: torch.device | str) -> bool:
    """Whether inference on ``device`` takes the fused path: built there and faster there."""
    return FUSED_BY_DEFAULT.get(torch.device(device).type, False) and fused_op_available(device)
