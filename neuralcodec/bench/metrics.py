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
    VIF      piq.vif_p (pixel-domain VIF on luma, sigma_n^2 = 2); None for images with a side
             under 41 px, piq's minimum.
    L1       mean absolute error over all RGB values, in 8-bit levels (0..255).
    L2       mean squared error over all RGB values, in 8-bit levels squared (PSNR's MSE).
    bpp      whole-file bytes * 8 / (W * H), headers and all.

Face region (only where a mask provider returns a mask for the image, see bench.masks):
the pixel metrics (PSNR, L1, L2) over exactly the mask's pixels; the window metrics (SSIM,
MS-SSIM, VIF) on the crop of the mask's bounding box, since their windows need a full
rectangle. A box under FACE_MIN_SIDE px on a side gives no face metrics.

LPIPS and DISTS are not computed: they need pretrained network weights that cannot be
downloaded on the machines this benchmark runs on, and no installed package ships them.
"""

import math
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
PIQ_PSNR_EPS = 1e-8
VIF_MIN_SIDE = 41
VIF_SIGMA_N_SQ = 2.0
FACE_MIN_SIDE = 16
NOT_REPORTED = {
    "lpips": "needs pretrained AlexNet/VGG weights, which cannot be downloaded here",
    "dists": "needs pretrained VGG weights, which cannot be downloaded here",
}


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
class FaceMetrics:
    """Quality on the face region only; `pixels` counts the mask, `box` is (x0, y0, x1, y1)."""

    pixels: int
    box: tuple[int, int, int, int]
    psnr: float
    l1: float
    l2: float
    ssim: float
    ms_ssim: float
    vif: float | None


@dataclass(frozen=True)
class Metrics:
    n_bytes: int
    bpp: float
    psnr: float
    ssim: float
    ms_ssim: float
    ms_ssim_kernel_size: int
    ms_ssim_scales: int
    vif: float | None
    l1: float
    l2: float
    face: FaceMetrics | None = None


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
        "vif": {
            "function": "piq.vif_p",
            "sigma_n_sq": VIF_SIGMA_N_SQ,
            "min_side": VIF_MIN_SIDE,
        },
        "l1": "mean absolute error over RGB values, 8-bit levels",
        "l2": "mean squared error over RGB values, 8-bit levels squared",
        "bpp": "whole-file bytes * 8 / (width * height)",
        "face_region": "PSNR, L1, L2 over the mask's pixels; SSIM, MS-SSIM, VIF on the crop "
        f"of the mask's bounding box; none for boxes under {FACE_MIN_SIDE} px a side",
        "not_reported": NOT_REPORTED,
    }


def _to_tensor(img: Image.Image) -> torch.Tensor:
    """RGB image -> 1x3xHxW float32 in [0, 255]."""
    pixels = np.asarray(img, dtype=np.float32)
    return torch.from_numpy(pixels).permute(2, 0, 1).unsqueeze(0)


def _window_metrics(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float, float | None, MsSsimSettings]:
    """SSIM, MS-SSIM and VIF of decoded `x` against original `y` (1x3xHxW, [0, 255])."""
    height, width = x.shape[-2:]
    ms_settings = MsSsimSettings.for_size(height, width)
    weights = torch.tensor(MS_SSIM_SCALE_WEIGHTS[: ms_settings.scales], dtype=torch.float32)
    ssim = piq.ssim(
        x,
        y,
        kernel_size=SSIM_KERNEL_SIZE,
        kernel_sigma=SSIM_KERNEL_SIGMA,
        data_range=DATA_RANGE,
        downsample=False,
    ).item()
    ms_ssim = piq.multi_scale_ssim(
        x,
        y,
        kernel_size=ms_settings.kernel_size,
        kernel_sigma=SSIM_KERNEL_SIGMA,
        data_range=DATA_RANGE,
        scale_weights=weights,
    ).item()
    vif = (
        piq.vif_p(x, y, sigma_n_sq=VIF_SIGMA_N_SQ, data_range=DATA_RANGE).item()
        if min(height, width) >= VIF_MIN_SIDE
        else None
    )
    return ssim, ms_ssim, vif, ms_settings


def _psnr_of_mse(mse: float) -> float:
    """piq.psnr's formula (its epsilon included), so identical regions score 80 dB as wholes do."""
    return -10 * math.log10(mse / DATA_RANGE**2 + PIQ_PSNR_EPS)


def _face_metrics(x: torch.Tensor, y: torch.Tensor, mask: np.ndarray) -> FaceMetrics | None:
    if mask.shape != tuple(x.shape[-2:]) or mask.dtype != np.bool_:
        raise ValueError(f"a face mask must be a bool array of shape {tuple(x.shape[-2:])}")
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    if min(y1 - y0, x1 - x0) < FACE_MIN_SIDE:
        return None
    diff = (x - y)[0].permute(1, 2, 0)[torch.from_numpy(mask)]
    l2 = diff.pow(2).mean().item()
    ssim, ms_ssim, vif, _ = _window_metrics(x[..., y0:y1, x0:x1], y[..., y0:y1, x0:x1])
    return FaceMetrics(
        pixels=int(mask.sum()),
        box=(x0, y0, x1, y1),
        psnr=_psnr_of_mse(l2),
        l1=diff.abs().mean().item(),
        l2=l2,
        ssim=ssim,
        ms_ssim=ms_ssim,
        vif=vif,
    )


def evaluate(
    original: Image.Image, decoded: Image.Image, n_bytes: int, face_mask: np.ndarray | None = None
) -> Metrics:
    """All metrics of one decoded image; `n_bytes` is the size of the whole encoded file.

    `face_mask` (HxW bool, True on the face) adds the face-region metrics.
    """
    for role, img in (("original", original), ("decoded", decoded)):
        if img.mode != "RGB":
            raise ValueError(f"{role} image must be RGB, got {img.mode}")
    if decoded.size != original.size:
        raise ValueError(f"decoded size {decoded.size} != original size {original.size}")
    width, height = original.size
    x, y = _to_tensor(decoded), _to_tensor(original)
    ssim, ms_ssim, vif, ms_settings = _window_metrics(x, y)
    diff = x - y
    return Metrics(
        n_bytes=n_bytes,
        bpp=bits_per_pixel(n_bytes, width, height),
        psnr=piq.psnr(x, y, data_range=DATA_RANGE).item(),
        ssim=ssim,
        ms_ssim=ms_ssim,
        ms_ssim_kernel_size=ms_settings.kernel_size,
        ms_ssim_scales=ms_settings.scales,
        vif=vif,
        l1=diff.abs().mean().item(),
        l2=diff.pow(2).mean().item(),
        face=None if face_mask is None else _face_metrics(x, y, face_mask),
    )
