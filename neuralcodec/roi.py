"""Face-aware bit allocation: a region of the latent grid coded at another level.

::

    roi ("auto" | (x, y, w, h) px) --_roi_box--> pixel box --_roi_cells--> latent cells
    cells + level offsets (quarter steps) --_region--> LevelRegion (level positions)
    LevelRegion + AnalysedImage --FaceHyperprior.code_latent--> EncodedLatents

The latent cells of a rectangle are quantised at a higher level than the file's quality and
the others at a lower one. By default the inside gets :data:`ROI_DEFAULT_BOOST_LEVELS` levels
more and the outside level is searched (:func:`rate_matched`), in quarter steps, so that the
file stays the size of the same image coded without ROI. A file's ROI block is checked
against the model before decoding (:func:`checked_region`).

Rate-axis names (``level_index`` 0-based, ``level_position``, level offsets,
``*_quarter_steps``): the glossary in :mod:`neuralcodec.models.hyperprior`.
"""

from __future__ import annotations

import math
import numbers
import re
import warnings
from collections.abc import Sequence

import numpy as np

from neuralcodec.container import RoiBlock
from neuralcodec.container.spec import (
    QUARTER_STEPS_PER_LEVEL,
    ROI_OFFSET_MAX_QUARTER_STEPS,
    ROI_OFFSET_MIN_QUARTER_STEPS,
)
from neuralcodec.errors import CorruptHeader, InvalidOption
from neuralcodec.models.hyperprior import AnalysedImage, FaceHyperprior, LevelRegion
from neuralcodec.transforms.networks import LATENT_STRIDE, STRIDE

#: Level offset inside the ROI when the caller gives no explicit offsets.
ROI_DEFAULT_BOOST_LEVELS = 2.0
#: How far, in levels, ROI level positions may lie beyond the model's first and last levels
#: (the log-gains extrapolate linearly there).
ROI_POSITION_MARGIN_LEVELS = 2.0

#: An ROI: "auto" (detect the face), (x, y, w, h) in pixels, "x,y,w,h", or None.
RoiInput = str | Sequence[int] | None


#: Rate-matched ROI files may exceed the plain file's size by at most this fraction; beyond it
#: the inside boost shrinks.
ROI_SIZE_TOLERANCE = 0.02


def parse_roi(text: str) -> str | tuple[int, int, int, int]:
    """``"auto"`` or ``"x,y,w,h"`` (pixels) -> ``"auto"`` or a 4-tuple; ValueError otherwise."""
    text = text.strip()
    if text == "auto":
        return "auto"
    if not re.fullmatch(r"\s*\d+\s*(,\s*\d+\s*){3}", text):
        raise InvalidOption(
            f"ROI must be 'auto' or x,y,w,h in pixels (non-negative integers), not {text!r}", option="roi"
        )
    x, y, w, h = (int(v) for v in text.split(","))
    return x, y, w, h


def roi_box(roi: RoiInput, rgb) -> tuple[int, int, int, int] | None:
    """The ROI in pixels, checked against the image; None where "auto" finds no face."""
    from neuralcodec import faces

    if isinstance(roi, str):
        roi = parse_roi(roi)
    if roi == "auto":
        box = faces.detect_face(rgb, min_neighbors=faces.MIN_CONFIDENT_NEIGHBORS)
        if box is None:
            warnings.warn("no face found; encoding without ROI", stacklevel=3)
            return None
        return faces.face_ellipse_bounds(box, rgb.shape[:2])
    if isinstance(roi, faces.Box):
        roi = (roi.x, roi.y, roi.w, roi.h)
    if (
        not isinstance(roi, Sequence)
        or len(roi) != 4
        or not all(isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) for v in roi)
    ):
        raise InvalidOption(
            f"ROI must be 'auto' or (x, y, w, h) integers in pixels, not {roi!r}", option="roi"
        )
    x, y, w, h = (int(v) for v in roi)
    height, width = rgb.shape[:2]
    if w < 1 or h < 1:
        raise InvalidOption(f"ROI {w}x{h} is empty", option="roi")
    if x < 0 or y < 0 or x + w > width or y + h > height:
        raise InvalidOption(f"ROI {x},{y},{w},{h} lies outside the {width}x{height} image", option="roi")
    return x, y, w, h


def roi_cells(box: tuple[int, int, int, int], grid_hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """Pixel box -> (left, top, width, height) in latent cells: edges rounded to the nearest
    cell boundary, at least one cell, inside the grid."""
    x, y, w, h = box
    rows, cols = grid_hw
    left = min(round(x / LATENT_STRIDE), cols - 1)
    top = min(round(y / LATENT_STRIDE), rows - 1)
    right = min(max(round((x + w) / LATENT_STRIDE), left + 1), cols)
    bottom = min(max(round((y + h) / LATENT_STRIDE), top + 1), rows)
    return left, top, right - left, bottom - top


def _position_range(net: FaceHyperprior) -> tuple[float, float]:
    """The level positions an ROI may use: the model's levels plus the margin on each side."""
    return -ROI_POSITION_MARGIN_LEVELS, net.levels - 1 + ROI_POSITION_MARGIN_LEVELS


def quarter_steps(level_offset: float, what: str) -> int:
    """A level offset -> quarter steps; InvalidOption unless it is a finite multiple of 1/4."""
    number = (
        isinstance(level_offset, numbers.Real)
        and not isinstance(level_offset, (bool, np.bool_))
        and math.isfinite(level_offset)
    )
    steps = level_offset * QUARTER_STEPS_PER_LEVEL if number else None
    if steps is None or steps != round(steps):
        raise InvalidOption(
            f"ROI {what} level offset must be a multiple of 1/{QUARTER_STEPS_PER_LEVEL}, "
            f"not {level_offset!r}",
            option="roi_levels",
        )
    return int(round(steps))


def roi_block(
    cells: tuple[int, int, int, int], inside_quarter_steps: int, outside_quarter_steps: int
) -> RoiBlock:
    left, top, width, height = cells
    return RoiBlock(left, top, width, height, inside_quarter_steps, outside_quarter_steps)


def level_region(
    cells: tuple[int, int, int, int], level_index: int, inside_quarter_steps: int, outside_quarter_steps: int
) -> LevelRegion:
    """Latent cells + offsets in quarter steps from ``level_index`` -> the model's LevelRegion."""
    return LevelRegion(
        *cells,
        inside_position=level_index + inside_quarter_steps / QUARTER_STEPS_PER_LEVEL,
        outside_position=level_index + outside_quarter_steps / QUARTER_STEPS_PER_LEVEL,
    )


def quarter_steps_range(net: FaceHyperprior, level_index: int) -> tuple[int, int]:
    """Smallest and largest offset from ``level_index``, in quarter steps, that stays in the
    allowed level positions."""
    lo, hi = _position_range(net)
    low = max(ROI_OFFSET_MIN_QUARTER_STEPS, math.ceil((lo - level_index) * QUARTER_STEPS_PER_LEVEL))
    high = min(ROI_OFFSET_MAX_QUARTER_STEPS, math.floor((hi - level_index) * QUARTER_STEPS_PER_LEVEL))
    return low, high


def rate_matched(net, analysed: AnalysedImage, pack_roi, cells, inside_quarter_steps: int) -> bytes:
    """The ROI file closest in size to the file without ROI.

    For a given inside offset the outside offset (in quarter steps) is bisected: sizes fall
    as it falls. Where even the lowest outside level cannot pay for the inside boost (small
    files), the boost shrinks a quarter step at a time until the file is within
    :data:`ROI_SIZE_TOLERANCE` of the plain size.
    """
    target = len(pack_roi(net.code_latent(analysed), None))
    low, _ = quarter_steps_range(net, analysed.level_index)

    def closest(inside: int) -> bytes:
        cache: dict[int, bytes] = {}

        def coded(outside: int) -> bytes:
            if outside not in cache:
                region = level_region(cells, analysed.level_index, inside, outside)
                cache[outside] = pack_roi(
                    net.code_latent(analysed, region), roi_block(cells, inside, outside)
                )
            return cache[outside]

        lo, hi = low, 0  # invariant: the answer lies in [lo, hi]
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if len(coded(mid)) > target:
                hi = mid
            else:
                lo = mid
        return min((coded(lo), coded(hi)), key=lambda d: (abs(len(d) - target), len(d)))

    data = closest(inside_quarter_steps)
    while len(data) > target * (1 + ROI_SIZE_TOLERANCE) and inside_quarter_steps > 1:
        inside_quarter_steps -= 1
        data = closest(inside_quarter_steps)
    return data


def checked_region(
    roi: RoiBlock, net: FaceHyperprior, level_index: int, hyper_hw: tuple[int, int]
) -> LevelRegion:
    """The file's ROI block as a LevelRegion, or CorruptHeader where the model cannot use it."""
    cells_per_hyper = STRIDE // LATENT_STRIDE
    rows, cols = hyper_hw[0] * cells_per_hyper, hyper_hw[1] * cells_per_hyper
    if roi.left + roi.width > cols or roi.top + roi.height > rows:
        raise CorruptHeader(
            f"ROI rectangle {roi.left},{roi.top} + {roi.width}x{roi.height} cells leaves the "
            f"{cols}x{rows} latent grid"
        )
    low, high = quarter_steps_range(net, level_index)
    inside, outside = roi.inside_quarter_steps, roi.outside_quarter_steps
    if not (low <= inside <= high and low <= outside <= high):
        raise CorruptHeader(f"ROI level offsets {inside}, {outside} (quarter steps) outside {low}..{high}")
    return level_region((roi.left, roi.top, roi.width, roi.height), level_index, inside, outside)
