"""Quality and rate of one decoded image against its original.

Both images are 8-bit RGB (HxWx3 uint8): what the codec's decoder returned, never an
internal float reconstruction. piq sees them as float32 tensors in [0, 255], data_range=255
(float64 agrees to ~1e-6 but runs piq's grouped convolutions ~15x slower on CPU).

    PSNR     piq.psnr over all three RGB channels (not luma only); capped at 80 dB by piq's
             epsilon for identical images.
    SSIM     piq.ssim, Gaussian window 11 px, sigma 1.5, per channel then averaged,
             downsample=False: piq would otherwise average-pool images whose short side is
             >= 384 px, and we measure every image at its native resolution.
    MS-SSIM  piq.multi_scale_ssim with sigma 1.5 and the paper's scale weights
             (0.0448, 0.2856, 0.3001, 0.2363, 0.1333). It needs a short side of at least
             (kernel_size - 1) * 2**(scales - 1) + 1 px, and the standard 11-px window at
             5 scales needs 161 px. Smaller images keep all 5 scales and use the largest
             odd window that fits: 7 px (97 px minimum) for 128x128 faces, 3 px down to
             33 px. Below that, scales are dropped. piq normalises the weights it is
             given to sum to 1.
             Every Metrics records the window and scale count it used.
    bpp      whole-file bytes * 8 / (W * H), headers and all.
"""

from dataclasses import dataclass

import numpy as np
import piq
import torch
from PIL import Image

DATA_RANGE = 255
SSIM_KERNEL_SIZE = 11
SSIM_KERNEL_SIGMA = 1.5
MS_SSIM_SCALE_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MS_SSIM_MIN_KERNEL_SIZE = 3


@dataclass(frozen=True)
class MsSsimSettings:
    kernel_size: int
    scales: int

    @classmethod
    def for_size(cls, height: int, width: int) -> "MsSsimSettings":
        """Most scales first, then the widest window up to the standard 11 px, that fit."""
        short_side = min(height, width)
        for scales in range(len(MS_SSIM_SCALE_WEIGHTS), 0, -1):
            for kernel_size in range(SSIM_KERNEL_SIZE, MS_SSIM_MIN_KERNEL_SIZE - 1, -2):
                if (kernel_size - 1) * 2 ** (scales - 1) + 1 <= short_side:
                    return cls(kernel_size, scales)
        raise ValueError(f"a {width}x{height} image is too small for MS-SSIM")


@dataclass(frozen=True)
class Metrics:
    n_bytes: int
    bpp: float
    psnr: float
    ssim: float
    ms_ssim: float
    ms_ssim_kernel_size: int
    ms_ssim_scales: int


def bits_per_pixel(n_bytes: int, width: int, height: int) -> float:
    return n_bytes * 8 / (width * height)


def describe() -> dict[str, object]:
    """The metric definitions, for the results' provenance."""
    return {
        "input": "8-bit RGB, original vs decoded, float32 in [0, 255], data_range=255",
        "psnr": "piq.psnr, RGB (all channels)",
        "ssim": {
            "function": "piq.ssim",
            "kernel_size": SSIM_KERNEL_SIZE,
            "kernel_sigma": SSIM_KERNEL_SIGMA,
            "downsample": False,
        },
        "ms_ssim": {
            "function": "piq.multi_scale_ssim",
            "kernel_sigma": SSIM_KERNEL_SIGMA,
            "scale_weights": MS_SSIM_SCALE_WEIGHTS,
            "size_rule": "most scales, then widest odd window <= 11 px, with "
            "(kernel_size - 1) * 2**(scales - 1) + 1 <= short side; "
            "the first `scales` weights, normalised by piq to sum to 1",
        },
        "bpp": "whole-file bytes * 8 / (width * height)",
    }


def _to_tensor(img: Image.Image) -> torch.Tensor:
    """RGB image -> 1x3xHxW float32 in [0, 255]."""
    pixels = np.asarray(img, dtype=np.float32)
    return torch.from_numpy(pixels).permute(2, 0, 1).unsqueeze(0)


def evaluate(original: Image.Image, decoded: Image.Image, n_bytes: int) -> Metrics:
    """All metrics of one decoded image; `n_bytes` is the size of the whole encoded file."""
    for role, img in (("original", original), ("decoded", decoded)):
        if img.mode != "RGB":
            raise ValueError(f"{role} image must be RGB, got {img.mode}")
    if decoded.size != original.size:
        raise ValueError(f"decoded size {decoded.size} != original size {original.size}")
    width, height = original.size
    ms_settings = MsSsimSettings.for_size(height, width)
    x, y = _to_tensor(decoded), _to_tensor(original)
    weights = torch.tensor(MS_SSIM_SCALE_WEIGHTS[: ms_settings.scales], dtype=torch.float32)
    return Metrics(
        n_bytes=n_bytes,
        bpp=bits_per_pixel(n_bytes, width, height),
        psnr=piq.psnr(x, y, data_range=DATA_RANGE).item(),
        ssim=piq.ssim(
            x,
            y,
            kernel_size=SSIM_KERNEL_SIZE,
            kernel_sigma=SSIM_KERNEL_SIGMA,
            data_range=DATA_RANGE,
            downsample=False,
        ).item(),
        ms_ssim=piq.multi_scale_ssim(
            x,
            y,
            kernel_size=ms_settings.kernel_size,
            kernel_sigma=SSIM_KERNEL_SIGMA,
            data_range=DATA_RANGE,
            scale_weights=weights,
        ).item(),
        ms_ssim_kernel_size=ms_settings.kernel_size,
        ms_ssim_scales=ms_settings.scales,
    )
