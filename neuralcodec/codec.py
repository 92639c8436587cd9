"""Image <-> .nfc bytes: the one place where models and the container meet.

::

    compress:   image -> load_rgb -> pad to stride -> model.analyse(level_index) -> AnalysedImage
                      [roi: pixel box -> latent cells + level offsets -> LevelRegion]
                      -> model.code_latent -> EncodedLatents
                      -> NfcFile(model id, quality, size, streams, ROI block) -> pack -> bytes
    decompress: bytes -> unpack (magic, version, CRC, lengths) -> model by id
                      [ROI block -> LevelRegion, checked against the latent grid and levels]
                      -> model.decompress -> crop -> PIL RGB image

Face-aware bit allocation (ROI): the latent cells of a rectangle are quantised at a higher
level than the file's quality and the others at a lower one. By default the inside gets
:data:`ROI_DEFAULT_BOOST_LEVELS` levels more and the outside level is searched, in quarter
steps, so that the file stays the size of the same image coded without ROI.

Rate-axis names (``quality`` 1-based, ``level_index`` 0-based, ``level_position``, level
offsets, ``*_quarter_steps``): the glossary in :mod:`neuralcodec.models.hyperprior`.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from neuralcodec import imaging
from neuralcodec.container import NfcFile, RoiBlock, pack, unpack
from neuralcodec.container.spec import (
    QUARTER_STEPS_PER_LEVEL,
    ROI_OFFSET_MAX_QUARTER_STEPS,
    ROI_OFFSET_MIN_QUARTER_STEPS,
)
from neuralcodec.errors import CorruptHeader, InvalidOption
from neuralcodec.models.catalog import (
    DEFAULT_MODEL,
    ModelSpec,
    decoder_spec,
    model_id_hash,
    spec_for,
    spec_for_hash,
)
from neuralcodec.models.hyperprior import AnalysedImage, EncodedLatents, FaceHyperprior, LevelRegion
from neuralcodec.models.registry import load_model
from neuralcodec.transforms.networks import LATENT_STRIDE, STRIDE

#: Level offset inside the ROI when the caller gives no explicit offsets.
ROI_DEFAULT_BOOST_LEVELS = 2.0
#: How far, in levels, ROI level positions may lie beyond the model's first and last levels
#: (the log-gains extrapolate linearly there).
ROI_POSITION_MARGIN_LEVELS = 2.0

#: An ROI: "auto" (detect the face), (x, y, w, h) in pixels, "x,y,w,h", or None.
RoiInput = str | Sequence[int] | None


@dataclass(frozen=True)
class FileInfo:
    """What ``nfc info`` shows about one .nfc file."""

    model_id: str
    model_alias: str
    decoder: str  # the decoder the file's writer chose: "faithful" or "realistic"
    quality: int  # 1-based
    width: int
    height: int
    file_bytes: int
    payload_bytes: int
    roi_cells: tuple[int, int, int, int] | None = None  # left, top, width, height in latent cells
    #: Level offsets of the ROI's inside and outside from ``quality``, in levels (the header's
    #: quarter steps / 4; what ``compress(roi_levels=...)`` takes).
    roi_inside_level_offset: float | None = None
    roi_outside_level_offset: float | None = None

    @property
    def roi_pixels(self) -> tuple[int, int, int, int] | None:
        """The ROI rectangle in pixels (x, y, w, h), clipped to the image."""
        if self.roi_cells is None:
            return None
        left, top, w, h = (c * LATENT_STRIDE for c in self.roi_cells)
        x1, y1 = min(left + w, self.width), min(top + h, self.height)
        return left, top, max(0, x1 - left), max(0, y1 - top)

    @property
    def header_bytes(self) -> int:
        return self.file_bytes - self.payload_bytes

    @property
    def bpp(self) -> float:
        return self.file_bytes * 8 / (self.width * self.height)


def available_qualities(model: str = DEFAULT_MODEL) -> list[int]:
    """Quality levels of ``model``, lowest (smallest files) first."""
    return list(spec_for(model).qualities)


def default_quality(model: str = DEFAULT_MODEL) -> int:
    """:data:`DEFAULT_QUALITY`, or the model's highest quality below it where it has fewer."""
    return spec_for(model).default_quality


def _check_quality(quality: int | None, model: str) -> int:
    if quality is None:
        return default_quality(model)
    levels = available_qualities(model)
    if isinstance(quality, bool) or not isinstance(quality, int) or quality not in levels:
        raise InvalidOption(
            f"quality of model {model} must be an integer in {levels[0]}..{levels[-1]}, not {quality!r}"
        )
    return quality


def parse_roi(text: str) -> str | tuple[int, int, int, int]:
    """``"auto"`` or ``"x,y,w,h"`` (pixels) -> ``"auto"`` or a 4-tuple; ValueError otherwise."""
    text = text.strip()
    if text == "auto":
        return "auto"
    if not re.fullmatch(r"\s*\d+\s*(,\s*\d+\s*){3}", text):
        raise InvalidOption(f"ROI must be 'auto' or x,y,w,h in pixels (non-negative integers), not {text!r}")
    x, y, w, h = (int(v) for v in text.split(","))
    return x, y, w, h


def _roi_box(roi: RoiInput, rgb) -> tuple[int, int, int, int] | None:
    """The ROI in pixels, checked against the image; None where "auto" finds no face."""
    from neuralcodec import faces

    if isinstance(roi, str):
        roi = parse_roi(roi)
    if roi == "auto":
        box = faces.detect_face(rgb)
        if box is None:
            warnings.warn("no face found; encoding without ROI", stacklevel=3)
            return None
        return faces.face_ellipse_bounds(box, rgb.shape[:2])
    if isinstance(roi, faces.Box):
        roi = (roi.x, roi.y, roi.w, roi.h)
    if (
        not isinstance(roi, Sequence)
        or len(roi) != 4
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in roi)
    ):
        raise InvalidOption(f"ROI must be 'auto' or (x, y, w, h) integers in pixels, not {roi!r}")
    x, y, w, h = (int(v) for v in roi)
    height, width = rgb.shape[:2]
    if w < 1 or h < 1:
        raise InvalidOption(f"ROI {w}x{h} is empty")
    if x < 0 or y < 0 or x + w > width or y + h > height:
        raise InvalidOption(f"ROI {x},{y},{w},{h} lies outside the {width}x{height} image")
    return x, y, w, h


def _roi_cells(box: tuple[int, int, int, int], grid_hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """Pixel box -> (left, top, width, height) in latent cells: edges rounded to the nearest
    cell boundary, at least one cell, inside the grid."""
    x, y, w, h = box
    rows, cols = grid_hw
    left = min(round(x / LATENT_STRIDE), cols - 1)
    top = min(round(y / LATENT_STRIDE), rows - 1)
    right = min(max(round((x + w) / LATENT_STRIDE), left + 1), cols)
    bottom = min(max(round((y + h) / LATENT_STRIDE), top + 1), rows)
    return left, top, right - left, bottom - top


#: Rate-matched ROI files may exceed the plain file's size by at most this fraction; beyond it
#: the inside boost shrinks.
ROI_SIZE_TOLERANCE = 0.02


def _position_range(net: FaceHyperprior) -> tuple[float, float]:
    """The level positions an ROI may use: the model's levels plus the margin on each side."""
    return -ROI_POSITION_MARGIN_LEVELS, net.levels - 1 + ROI_POSITION_MARGIN_LEVELS


def _quarter_steps(level_offset: float, what: str) -> int:
    """A level offset -> quarter steps; InvalidOption unless it is a finite multiple of 1/4."""
    number = (
        isinstance(level_offset, (int, float))
        and not isinstance(level_offset, bool)
        and math.isfinite(level_offset)
    )
    steps = level_offset * QUARTER_STEPS_PER_LEVEL if number else None
    if steps is None or steps != round(steps):
        raise InvalidOption(
            f"ROI {what} level offset must be a multiple of 1/{QUARTER_STEPS_PER_LEVEL}, not {level_offset!r}"
        )
    return round(steps)


def _roi_block(
    cells: tuple[int, int, int, int], inside_quarter_steps: int, outside_quarter_steps: int
) -> RoiBlock:
    left, top, width, height = cells
    return RoiBlock(left, top, width, height, inside_quarter_steps, outside_quarter_steps)


def _region(
    cells: tuple[int, int, int, int], level_index: int, inside_quarter_steps: int, outside_quarter_steps: int
) -> LevelRegion:
    """Latent cells + offsets in quarter steps from ``level_index`` -> the model's LevelRegion."""
    return LevelRegion(
        *cells,
        inside_position=level_index + inside_quarter_steps / QUARTER_STEPS_PER_LEVEL,
        outside_position=level_index + outside_quarter_steps / QUARTER_STEPS_PER_LEVEL,
    )


def _quarter_steps_range(net: FaceHyperprior, level_index: int) -> tuple[int, int]:
    """Smallest and largest offset from ``level_index``, in quarter steps, that stays in the
    allowed level positions."""
    lo, hi = _position_range(net)
    low = max(ROI_OFFSET_MIN_QUARTER_STEPS, math.ceil((lo - level_index) * QUARTER_STEPS_PER_LEVEL))
    high = min(ROI_OFFSET_MAX_QUARTER_STEPS, math.floor((hi - level_index) * QUARTER_STEPS_PER_LEVEL))
    return low, high


def _pack(spec, quality, width, height, encoded: EncodedLatents, roi: RoiBlock | None = None) -> bytes:
    return pack(
        NfcFile(
            model_hash=model_id_hash(spec.model_id),
            quality=quality,
            width=width,
            height=height,
            streams=(encoded.hyper_stream, encoded.latent_stream),
            roi=roi,
        )
    )


def _rate_matched(net, analysed: AnalysedImage, pack_roi, cells, inside_quarter_steps: int) -> bytes:
    """The ROI file closest in size to the file without ROI.

    For a given inside offset the outside offset (in quarter steps) is bisected: sizes fall
    as it falls. Where even the lowest outside level cannot pay for the inside boost (small
    files), the boost shrinks a quarter step at a time until the file is within
    :data:`ROI_SIZE_TOLERANCE` of the plain size.
    """
    target = len(pack_roi(net.code_latent(analysed), None))
    low, _ = _quarter_steps_range(net, analysed.level_index)

    def closest(inside: int) -> bytes:
        cache: dict[int, bytes] = {}

        def coded(outside: int) -> bytes:
            if outside not in cache:
                region = _region(cells, analysed.level_index, inside, outside)
                cache[outside] = pack_roi(
                    net.code_latent(analysed, region), _roi_block(cells, inside, outside)
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


def compress(
    image: imaging.ImageInput,
    quality: int | None = None,
    model: str = DEFAULT_MODEL,
    roi: RoiInput = None,
    roi_levels: tuple[float, float | None] | None = None,
    target_bytes: int | None = None,
) -> bytes:
    """Encode ``image`` (PIL image, uint8 HxW[x3|x4] array, path or file bytes) to .nfc bytes.

    ``quality``: one of :func:`available_qualities` (None: :func:`default_quality`).
    ``model``: an alias or id; ``"gan"`` writes the same bitstream as its base model but marks
    the file for the realistic decoder (see :func:`decompress`).

    ``target_bytes`` (instead of ``quality``): the highest quality whose whole file is at
    most that many bytes; InvalidOption when even the lowest quality is larger (the message
    gives its size). File size grows with quality, so the search takes about log2(qualities)
    encodes.

    ``roi`` spends more bits on a region: ``"auto"`` (the detected face; warns and codes
    without ROI where none is found), ``(x, y, w, h)`` in pixels or ``"x,y,w,h"``.
    ``roi_levels`` = (inside, outside) level offsets from ``quality``, in levels, multiples of
    1/4 (stored as quarter steps; e.g. (1.5, -0.75) codes the inside as if at quality + 1.5);
    an outside of None (the default, with inside +:data:`ROI_DEFAULT_BOOST_LEVELS`) is searched
    so that the file keeps the size it has without ROI. InvalidOption (a ValueError) for an
    ROI outside the image, an empty one, or offsets beyond the model's levels.
    """
    spec = spec_for(model)
    if target_bytes is not None:
        if quality is not None:
            raise InvalidOption("give quality or target_bytes, not both")
        if isinstance(target_bytes, bool) or not isinstance(target_bytes, int) or target_bytes < 1:
            raise InvalidOption(f"target_bytes must be a positive integer, not {target_bytes!r}")
    else:
        quality = _check_quality(quality, spec.alias)
    if roi_levels is not None and roi is None:
        raise InvalidOption("roi_levels needs an roi")
    roi_levels = (ROI_DEFAULT_BOOST_LEVELS, None) if roi_levels is None else roi_levels
    if isinstance(roi_levels, (str, bytes)) or not isinstance(roi_levels, Sequence) or len(roi_levels) != 2:
        raise InvalidOption(f"roi_levels must be (inside, outside) level offsets, not {roi_levels!r}")
    rgb = imaging.load_rgb(image)
    box = None if roi is None else _roi_box(roi, rgb)
    if target_bytes is not None:
        return _encode_to_fit(spec, target_bytes, rgb, box, roi_levels)
    return _encode(spec, _check_quality(quality, spec.alias), rgb, box, roi_levels)


def _encode_to_fit(spec: ModelSpec, target_bytes: int, rgb, box, roi_levels) -> bytes:
    """The file of the highest quality of ``spec`` that is at most ``target_bytes`` long."""
    qualities = list(spec.qualities)
    best: bytes | None = None
    smallest: int | None = None
    lo, hi = 0, len(qualities) - 1
    while lo <= hi:  # bisect the qualities: sizes grow with quality
        mid = (lo + hi) // 2
        data = _encode(spec, qualities[mid], rgb, box, roi_levels)
        if len(data) <= target_bytes:
            best, lo = data, mid + 1
        else:
            smallest = len(data) if mid == 0 else smallest
            hi = mid - 1
    if best is None:
        raise InvalidOption(
            f"no quality of {spec.alias} fits {target_bytes} bytes: its smallest file for this image "
            f"is {smallest} bytes (quality {qualities[0]})"
        )
    return best


def _encode(spec: ModelSpec, quality: int, rgb, box, roi_levels) -> bytes:
    height, width = rgb.shape[:2]
    net = load_model(spec.alias)
    level_index = quality - 1
    analysed = net.analyse(imaging.to_padded_tensor(rgb, STRIDE), level_index=level_index)

    def pack_roi(encoded: EncodedLatents, block: RoiBlock | None) -> bytes:
        return _pack(spec, quality, width, height, encoded, block)

    if box is None:
        return pack_roi(net.code_latent(analysed), None)
    cells = _roi_cells(box, (analysed.y_scaled.shape[2], analysed.y_scaled.shape[3]))
    low, high = _quarter_steps_range(net, level_index)
    inside = _quarter_steps(roi_levels[0], "inside")
    outside = None if roi_levels[1] is None else _quarter_steps(roi_levels[1], "outside")
    for steps, what in ((inside, "inside"), (outside, "outside")):
        if steps is not None and not low <= steps <= high:
            raise InvalidOption(
                f"ROI {what} offset {steps / QUARTER_STEPS_PER_LEVEL:+g} levels leaves quality {quality}'s "
                f"allowed range {low / QUARTER_STEPS_PER_LEVEL:+g}..{high / QUARTER_STEPS_PER_LEVEL:+g}"
            )
    if outside is None:
        return _rate_matched(net, analysed, pack_roi, cells, inside)
    region = _region(cells, level_index, inside, outside)
    return pack_roi(net.code_latent(analysed, region), _roi_block(cells, inside, outside))


def decompress(data: bytes, decoder: str | None = None) -> Image.Image:
    """Decode .nfc bytes to an RGB PIL image of the original size.

    ``decoder``: None decodes the way the file's writer chose (the model id in the header);
    ``"faithful"`` or ``"realistic"`` picks that decoder of the file's model family instead
    (ValueError where the family has none, or it was not trained for the file's quality).
    """
    f = unpack(data)
    spec = spec_for_hash(f.model_hash)
    if decoder is not None:
        spec = decoder_spec(spec, decoder)
    net = load_model(spec.alias)
    if not 1 <= f.quality <= net.levels:
        raise CorruptHeader(f"quality {f.quality} does not exist for model {spec.model_id}")
    if f.quality not in spec.qualities:
        qualities = spec.qualities
        raise InvalidOption(
            f"the {spec.decoder} decoder ({spec.model_id}) covers qualities {qualities[0]}..{qualities[-1]}, "
            f"the file has quality {f.quality}; decode it with decoder='faithful'"
        )
    if len(f.streams) != 2:
        raise CorruptHeader(f"model {spec.model_id} expects 2 streams, the file has {len(f.streams)}")
    hyper_hw = (-(-f.height // STRIDE), -(-f.width // STRIDE))
    encoded = EncodedLatents(f.streams[0], f.streams[1], hyper_hw=hyper_hw)
    region = None
    if f.roi is not None:
        region = _checked_region(f.roi, net, f.quality - 1, hyper_hw)
    x_hat = net.decompress(encoded, level_index=f.quality - 1, region=region)
    return imaging.to_image(x_hat, f.width, f.height)


def _checked_region(
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
    low, high = _quarter_steps_range(net, level_index)
    inside, outside = roi.inside_quarter_steps, roi.outside_quarter_steps
    if not (low <= inside <= high and low <= outside <= high):
        raise CorruptHeader(f"ROI level offsets {inside}, {outside} (quarter steps) outside {low}..{high}")
    return _region((roi.left, roi.top, roi.width, roi.height), level_index, inside, outside)


def inspect(data: bytes) -> FileInfo:
    """Header facts of an .nfc file (verifies the checksum; decodes no pixels)."""
    f = unpack(data)
    spec = spec_for_hash(f.model_hash)
    return FileInfo(
        model_id=spec.model_id,
        model_alias=spec.alias,
        decoder=spec.decoder,
        quality=f.quality,
        width=f.width,
        height=f.height,
        file_bytes=len(data),
        payload_bytes=f.payload_bytes,
        roi_cells=None if f.roi is None else (f.roi.left, f.roi.top, f.roi.width, f.roi.height),
        roi_inside_level_offset=None
        if f.roi is None
        else f.roi.inside_quarter_steps / QUARTER_STEPS_PER_LEVEL,
        roi_outside_level_offset=None
        if f.roi is None
        else f.roi.outside_quarter_steps / QUARTER_STEPS_PER_LEVEL,
    )
