"""Convolutional transforms of a mean-scale hyperprior codec.

Data flow for one image (B=1), N feature channels, M latent channels::

    x [3, H, W] in [0, 1]
      -> AnalysisTransform   (g_a: 4 x conv5x5/2 with GDN)    -> y [M, H/16, W/16]
      -> HyperAnalysis       (h_a: conv3x3, 2 x conv5x5/2)     -> z [N, H/64, W/64]
    z_hat
      -> HyperSynthesis      (h_s: 2 x deconv5x5/2, conv3x3)   -> (mean, scale) of y, each [M, H/16, W/16]
    y_hat
      -> SynthesisTransform  (g_s: 4 x deconv5x5/2 with IGDN)  -> x_hat [3, H, W]

H and W must be multiples of :data:`STRIDE` (the codec pads to it).
"""

from __future__ import annotations

import torch
from torch import nn

from neuralcodec.transforms.fused import deconv_igdn, use_fused_by_default
from neuralcodec.transforms.gdn import GDN
from neuralcodec.transforms.strides import LATENT_STRIDE, STRIDE

__all__ = [
    "LATENT_STRIDE",
    "STRIDE",
    "AnalysisTransform",
    "HyperAnalysis",
    "HyperSynthesis",
    "SynthesisTransform",
    "stage_widths",
]


Widths = int | tuple[int, int, int]


def stage_widths(channels: Widths) -> tuple[int, int, int]:
    """Feature channels at 1/2, 1/4 and 1/8 scale: one N for all, or one per scale."""
    if isinstance(channels, int):
        return (channels, channels, channels)
    widths = tuple(int(c) for c in channels)
    if len(widths) != 3:
        raise ValueError(f"need one width per scale (1/2, 1/4, 1/8), got {widths}")
    return widths  # type: ignore[return-value]


def _conv(in_ch: int, out_ch: int, kernel: int = 5, stride: int = 2) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2)


def _deconv(in_ch: int, out_ch: int, kernel: int = 5, stride: int = 2) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(
        in_ch, out_ch, kernel, stride=stride, padding=kernel // 2, output_padding=stride - 1
    )


class AnalysisTransform(nn.Sequential):
    """g_a: image [B, 3, H, W] -> latent y [B, M, H/16, W/16].

    ``channels``: N, or the widths at 1/2, 1/4 and 1/8 scale (:func:`stage_widths`).
    """

    def __init__(self, channels: Widths, latent_channels: int):
        half, quarter, eighth = stage_widths(channels)
        super().__init__(
            _conv(3, half),
            GDN(half),
            _conv(half, quarter),
            GDN(quarter),
            _conv(quarter, eighth),
            GDN(eighth),
            _conv(eighth, latent_channels),
        )


class SynthesisTransform(nn.Sequential):
    """g_s: latent y_hat [B, M, h, w] -> image x_hat [B, 3, 16h, 16w] (not clamped).

    ``channels``: N, or the widths at 1/2, 1/4 and 1/8 scale (:func:`stage_widths`).
    ``forward`` runs layer by layer with autograd (training); :meth:`infer` computes the same
    function for decoding, with each deconv + IGDN pair as one fused op where it pays off.
    """

    def __init__(self, channels: Widths, latent_channels: int):
        half, quarter, eighth = stage_widths(channels)
        super().__init__(
            _deconv(latent_channels, eighth),
            GDN(eighth, inverse=True),
            _deconv(eighth, quarter),
            GDN(quarter, inverse=True),
            _deconv(quarter, half),
            GDN(half, inverse=True),
            _deconv(half, 3),
        )

    @torch.no_grad()
    def infer(self, y_hat: torch.Tensor, fused: bool | None = None) -> torch.Tensor:
        """Like ``forward``, without autograd.

        ``fused``: None uses the fused deconv + IGDN op where it is built and measured faster
        (:func:`~neuralcodec.transforms.fused.use_fused_by_default`); True requires it
        (:class:`~neuralcodec.errors.ExtensionNotBuilt` otherwise); False runs the layers.
        """
        if fused is None:
            fused = use_fused_by_default(y_hat.device)
        x = y_hat
        layers = list(self)
        for deconv, gdn in zip(layers[:-1:2], layers[1::2], strict=True):
            x = deconv_igdn(x, deconv, gdn, fused)
        return layers[-1](x)


class HyperAnalysis(nn.Sequential):
    """h_a: y [B, M, h, w] -> hyper-latent z [B, N, h/4, w/4]."""

    def __init__(self, channels: int, latent_channels: int):
        super().__init__(
            _conv(latent_channels, channels, kernel=3, stride=1),
            nn.LeakyReLU(inplace=True),
            _conv(channels, channels),
            nn.LeakyReLU(inplace=True),
            _conv(channels, channels),
        )


class HyperSynthesis(nn.Module):
    """h_s: z_hat [B, N, h/4, w/4] -> (mean, scale) of y, each [B, M, h, w].

    The scale is raw; the Gaussian conditional bounds it from below.
    """

    def __init__(self, channels: int, latent_channels: int):
        super().__init__()
        mid = channels * 3 // 2
        self.layers = nn.Sequential(
            _deconv(channels, channels),
            nn.LeakyReLU(inplace=True),
            _deconv(channels, mid),
            nn.LeakyReLU(inplace=True),
            _conv(mid, 2 * latent_channels, kernel=3, stride=1),
        )

    def forward(self, z_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, scale = self.layers(z_hat).chunk(2, dim=1)
        return mean, scale
