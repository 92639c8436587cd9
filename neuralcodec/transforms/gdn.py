"""Generalized divisive normalisation (GDN) and its inverse, the nonlinearity of the transforms.

::

    x [B, C, H, W] -> norm = beta + gamma @ x^2      (per pixel, mixing the C channels)
                   -> GDN:  x / sqrt(norm)           (analysis)
                   -> IGDN: x * sqrt(norm)           (synthesis, ``inverse=True``)

Balle, Laparra and Simoncelli, "Density modeling of images using a generalized normalization
transformation" (ICLR 2016). ``beta`` [C] and ``gamma`` [C, C] are stored reparametrised, as
CompressAI's ``compressai.layers.GDN`` stores them, with the same names and buffers, so weights
files trained with either load into the other; the forward pass computes the same float32
operations in the same order, and the lower bound has the same straight-through gradient.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: Offset of the non-negative reparametrisation: stored value v means v^2 - REPARAM_OFFSET^2.
REPARAM_OFFSET = 2.0**-18


class _LowerBoundFunction(torch.autograd.Function):
    """max(x, bound), whose gradient passes where x is above the bound or the step pushes it up."""

    @staticmethod
    def forward(ctx, x: Tensor, bound: Tensor) -> Tensor:
        ctx.save_for_backward(x, bound)
        return torch.max(x, bound)

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        x, bound = ctx.saved_tensors
        return ((x >= bound) | (grad_output < 0)) * grad_output, None


class LowerBound(nn.Module):
    """``max(x, bound)`` with a straight-through gradient towards the bound (buffer ``bound`` [1])."""

    bound: Tensor

    def __init__(self, bound: float):
        super().__init__()
        self.register_buffer("bound", torch.tensor([float(bound)]))

    def forward(self, x: Tensor) -> Tensor:
        if not torch.is_grad_enabled():
            return torch.max(x, self.bound)
        return _LowerBoundFunction.apply(x, self.bound)


class NonNegativeParametrizer(nn.Module):
    """Stored v -> max(v, sqrt(minimum + offset^2))^2 - offset^2 >= minimum (buffer ``pedestal``)."""

    pedestal: Tensor

    def __init__(self, minimum: float = 0.0, reparam_offset: float = REPARAM_OFFSET):
        super().__init__()
        self.register_buffer("pedestal", torch.tensor([reparam_offset**2]))
        self.lower_bound = LowerBound((minimum + reparam_offset**2) ** 0.5)

    def init(self, x: Tensor) -> Tensor:
        """The stored value that represents ``x``."""
        return torch.sqrt(torch.max(x + self.pedestal, self.pedestal))

    def forward(self, x: Tensor) -> Tensor:
        return self.lower_bound(x) ** 2 - self.pedestal


class GDN(nn.Module):
    """GDN (or IGDN with ``inverse=True``) over the channels of [B, C, H, W] inputs."""

    def __init__(self, channels: int, inverse: bool = False, beta_min: float = 1e-6, gamma_init: float = 0.1):
        super().__init__()
        self.inverse = bool(inverse)
        self.beta_reparam = NonNegativeParametrizer(minimum=beta_min)
        self.beta = nn.Parameter(self.beta_reparam.init(torch.ones(channels)))
        self.gamma_reparam = NonNegativeParametrizer()
        self.gamma = nn.Parameter(self.gamma_reparam.init(gamma_init * torch.eye(channels)))
        self._inference_cache: tuple[tuple, tuple[Tensor, Tensor]] | None = None

    def effective_parameters(self) -> tuple[Tensor, Tensor]:
        """(beta [C], gamma [C, C]) as the forward pass uses them (after reparametrisation).

        Without autograd they are computed once and reused until a parameter or buffer
        changes (in place, as optimisers and ``load_state_dict`` do, or by moving it): the
        key is each tensor's storage and version counter.
        """
        if torch.is_grad_enabled():
            return self.beta_reparam(self.beta), self.gamma_reparam(self.gamma)
        tensors = (self.beta, self.gamma, *self.buffers())
        key = tuple((t.data_ptr(), t._version, t.dtype, t.device) for t in tensors)
        if self._inference_cache is None or self._inference_cache[0] != key:
            self._inference_cache = (key, (self.beta_reparam(self.beta), self.gamma_reparam(self.gamma)))
        return self._inference_cache[1]

    def forward(self, x: Tensor) -> Tensor:
        channels = x.shape[1]
        beta, gamma = self.effective_parameters()
        norm = F.conv2d(x**2, gamma.reshape(channels, channels, 1, 1), beta)
        return x * (torch.sqrt(norm) if self.inverse else torch.rsqrt(norm))
