"""The analysis and synthesis transforms over tiles: large images in bounded memory.

The transforms are convolutions, so an output cell depends only on a window of the input
(its receptive field). Computing a tile of the output from the input window of that tile
plus a *halo* at least as wide as the receptive field, then cropping the halo off, gives the
values the whole-image pass gives: the zero padding at the edges of the window only reaches
the halo. Where a tile edge is an edge of the image, the window ends there, as the
whole-image pass does. On CPU the tiled and the whole-image pass compute the same floats
(measured with oneDNN, one thread: ``tests/test_tiles.py``) on one condition this module
keeps: the last deconvolution of the synthesis (64 -> 3 channels) is run on row strips of the
full canvas width, because oneDNN picks its algorithm for that layer by the width of its
input (other widths give other last float bits), while every height gives the same values.

::

    analysis:   uint8 image --window + halo, replicate-padded to the canvas, float per tile-->
                    g_a --crop--> y [1, M, H/16, W/16] (the only whole-image tensor)
    synthesis:  y_hat --per strip of latent rows, per column tile: window + halo-->
                    3 x (deconv + IGDN) --crop--> features [1, N, strip rows/2, W/2]
                    --last deconv on the strip, full width--> clamp, uint8 --> rows of the image

Peak memory: the latent-sized tensors plus one tile's activations plus one strip's
1/2-scale features (about 256 bytes per pixel of canvas width per row of the strip).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from neuralcodec.transforms.fused import deconv_igdn
from neuralcodec.transforms.strides import LATENT_STRIDE, STRIDE

#: Images whose canvas has more pixels than this are coded over tiles (the codec's choice,
#: ``neuralcodec.codec``); smaller ones run every transform whole, as they always have.
TILED_ABOVE_PIXELS = 1 << 21
#: Hyper-latent rows per strip of the float64 hyper synthesis of such an image, and its halo
#: (two 5x5 stride-2 deconvolutions and a 3x3 convolution read less than 2 rows to each side).
#: Fixed, not a :class:`Tiling`: encoder and decoder must compute the same entropy parameters
#: for an image, so the strips depend on its size alone.
HYPER_STRIP_ROWS = 4
HYPER_HALO_ROWS = 2

#: Pixels of halo around an analysis tile: g_a's four 5x5 stride-2 convolutions see
#: 2 * (1 + 2 + 4 + 8) = 30 pixels to each side of a latent cell's 16 x 16 pixels; rounded up
#: to a multiple of the latent stride so that tiles stay on the latent grid.
ANALYSIS_HALO_PX = 32
#: Latent cells of halo around a synthesis tile for the three deconv + IGDN layers (each
#: 5x5 stride-2 deconvolution reads one input cell to each side: 1 + 1/2 + 1/4 < 2 cells;
#: doubled for margin, as it costs little at 1/16 scale).
SYNTHESIS_HALO_CELLS = 4
#: Rows of halo (at 1/2 scale) of a strip for the last deconvolution, which reads one row to
#: each side; a whole latent cell of them.
LAST_LAYER_HALO_ROWS = LATENT_STRIDE // 2


@dataclass(frozen=True)
class Tiling:
    """Tile sizes of the tiled transforms, in canvas pixels (multiples of :data:`STRIDE`).

    ``tile``: the side of an analysis tile and the width of a synthesis column tile;
    ``strip``: the height of a synthesis row strip. Smaller tiles need less memory and
    recompute more halo; the results do not depend on them.
    """

    tile: int = 1024
    strip: int = 256

    def __post_init__(self) -> None:
        for name in ("tile", "strip"):
            value = getattr(self, name)
            if value < STRIDE or value % STRIDE:
                raise ValueError(f"{name} must be a positive multiple of {STRIDE} pixels, not {value}")


def _spans(length: int, step: int) -> list[tuple[int, int]]:
    return [(start, min(start + step, length)) for start in range(0, length, step)]


def float_window(rgb: np.ndarray, rows: tuple[int, int], cols: tuple[int, int]) -> Tensor:
    """Canvas window rows x cols of uint8 ``rgb`` [H, W, 3] as float [1, 3, h, w] in [0, 1].

    The canvas is ``rgb`` padded by repeating its last row and column (as
    :func:`neuralcodec.imaging.to_padded_tensor` pads), so the window may reach past the image.
    The same elementwise float operations as the whole-image conversion: the same values.
    """
    height, width = rgb.shape[:2]
    row_index = np.minimum(np.arange(*rows), height - 1)
    col_index = np.minimum(np.arange(*cols), width - 1)
    window = rgb[row_index[:, None], col_index[None, :]]
    return torch.from_numpy(window).permute(2, 0, 1)[None].float().div_(255.0)


@torch.no_grad()
def analyse_tiled(analysis: nn.Module, rgb: np.ndarray, canvas: tuple[int, int], tiling: Tiling) -> Tensor:
    """g_a of uint8 ``rgb`` [H, W, 3] padded to ``canvas`` (H', W') -> y [1, M, H'/16, W'/16]."""
    canvas_h, canvas_w = canvas
    y: Tensor | None = None
    for r0, r1 in _spans(canvas_h, tiling.tile):
        for c0, c1 in _spans(canvas_w, tiling.tile):
            a, b = max(r0 - ANALYSIS_HALO_PX, 0), min(r1 + ANALYSIS_HALO_PX, canvas_h)
            c, d = max(c0 - ANALYSIS_HALO_PX, 0), min(c1 + ANALYSIS_HALO_PX, canvas_w)
            out = analysis(float_window(rgb, (a, b), (c, d)))
            if y is None:
                shape = (1, out.shape[1], canvas_h // LATENT_STRIDE, canvas_w // LATENT_STRIDE)
                y = torch.empty(shape, dtype=out.dtype)
            s = LATENT_STRIDE
            y[:, :, r0 // s : r1 // s, c0 // s : c1 // s] = out[
                :, :, (r0 - a) // s : (r1 - a) // s, (c0 - c) // s : (c1 - c) // s
            ]
    assert y is not None  # the canvas has at least one tile
    return y


def hyper_synthesis_strips(hyper_synthesis: nn.Module, z: Tensor) -> tuple[Tensor, Tensor]:
    """``hyper_synthesis(z)`` (mean, scale), computed on strips of :data:`HYPER_STRIP_ROWS`
    hyper-latent rows: the native float64 convolutions unfold their input (im2col, 9 to 25
    times its size), which for a whole 24 Mpx image would take about 1 GB."""
    rows = z.shape[2]
    out: Tensor | None = None
    for r0, r1 in _spans(rows, HYPER_STRIP_ROWS):
        a, b = max(r0 - HYPER_HALO_ROWS, 0), min(r1 + HYPER_HALO_ROWS, rows)
        mean, scale = hyper_synthesis(z[:, :, a:b])
        strip = torch.cat([mean, scale], dim=1)
        per_row = strip.shape[2] // (b - a)
        if out is None:
            out = torch.empty((1, strip.shape[1], rows * per_row, strip.shape[3]), dtype=strip.dtype)
        out[:, :, r0 * per_row : r1 * per_row] = strip[:, :, (r0 - a) * per_row : (r1 - a) * per_row]
    assert out is not None  # z has at least one row
    mean, scale = out.chunk(2, dim=1)
    return mean, scale


def to_rgb8(x_hat: Tensor) -> np.ndarray:
    """float [3, h, w] (any range) -> uint8 [h, w, 3]: clamped to [0, 1], times 255, rounded."""
    x = x_hat.clamp(0.0, 1.0).mul_(255.0).round_().clamp_(0, 255).to(torch.uint8)
    return x.permute(1, 2, 0).numpy()


@torch.no_grad()
def synthesize_tiled(
    synthesis: nn.Sequential, y_hat: Tensor, size: tuple[int, int], tiling: Tiling, fused: bool
) -> np.ndarray:
    """g_s of ``y_hat`` [1, M, h, w] (after the inverse gain) -> uint8 [height, width, 3], the
    top-left ``size`` = (height, width) of the canvas, as :func:`to_rgb8` of the whole-image
    :meth:`~neuralcodec.transforms.networks.SynthesisTransform.infer` would give."""
    height, width = size
    layers = list(synthesis)
    pairs = list(zip(layers[:-1:2], layers[1::2], strict=True))
    last = layers[-1]
    cells_h, cells_w = y_hat.shape[2], y_hat.shape[3]
    half = LATENT_STRIDE // 2  # rows and columns of 1/2-scale features per latent cell
    out = np.empty((height, width, 3), dtype=np.uint8)
    strip_cells, tile_cells = tiling.strip // LATENT_STRIDE, tiling.tile // LATENT_STRIDE
    for j0, j1 in _spans(-(-height // LATENT_STRIDE), strip_cells):
        # The strip's 1/2-scale features: its rows and one latent cell of halo rows.
        f0, f1 = max(j0 - 1, 0), min(j1 + 1, cells_h)
        features: Tensor | None = None
        for c0, c1 in _spans(cells_w, tile_cells):
            a, b = max(f0 - SYNTHESIS_HALO_CELLS, 0), min(f1 + SYNTHESIS_HALO_CELLS, cells_h)
            c, d = max(c0 - SYNTHESIS_HALO_CELLS, 0), min(c1 + SYNTHESIS_HALO_CELLS, cells_w)
            x = y_hat[:, :, a:b, c:d]
            for deconv, gdn in pairs:
                x = deconv_igdn(x, deconv, gdn, fused)
            if features is None:
                shape = (1, x.shape[1], (f1 - f0) * half, cells_w * half)
                features = torch.empty(shape, dtype=x.dtype)
            features[:, :, :, c0 * half : c1 * half] = x[
                :, :, (f0 - a) * half : (f1 - a) * half, (c0 - c) * half : (c1 - c) * half
            ]
        assert features is not None  # the strip has at least one column tile
        x_hat = last(features)[0]
        top = (j0 - f0) * LATENT_STRIDE
        rows = min(j1 * LATENT_STRIDE, height) - j0 * LATENT_STRIDE
        out[j0 * LATENT_STRIDE : j0 * LATENT_STRIDE + rows] = to_rgb8(x_hat[:, top : top + rows, :width])
    return out
