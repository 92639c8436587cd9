"""Image <-> .nfc bytes: the one place where models and the container meet.

::

    compress:   image -> load_rgb -> pad to stride -> model.analyse(level_index) -> AnalysedImage
                      [roi: pixel box -> latent cells + level offsets -> LevelRegion]
                      -> model.code_latent -> EncodedLatents
                      -> NfcFile(model id, quality, size, streams, ROI block) -> pack -> bytes
    decompress: bytes -> unpack (magic, version, CRC, lengths) -> model by id
                      [ROI block -> LevelRegion, checked against the latent grid and levels]
                      -> model.decompress -> crop -> PIL RGB image

Face-aware bit allocation (ROI) lives in :mod:`neuralcodec.roi`.

Rate-axis names (``quality`` 1-based, ``level_index`` 0-based, ``level_position``, level
offsets, ``*_quarter_steps``): the glossary in :mod:`neuralcodec.models.hyperprior`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from neuralcodec import imaging
from neuralcodec.container import NfcFile, RoiBlock, pack, unpack
from neuralcodec.container.spec import (
    QUARTER_STEPS_PER_LEVEL,
)
from neuralcodec.errors import CorruptHeader, InvalidOption
from neuralcodec.info import FileInfo, available_qualities, default_quality, inspect  # noqa: F401 (re-exported)
from neuralcodec.models.catalog import (
    DEFAULT_MODEL,
    ModelSpec,
    decoder_spec,
    model_id_hash,
    spec_for,
    spec_for_hash,
)
from neuralcodec.models.hyperprior import EncodedLatents
from neuralcodec.models.registry import load_model
from neuralcodec.roi import (
    ROI_DEFAULT_BOOST_LEVELS,
    RoiInput,
    checked_region,
    level_region,
    quarter_steps,
    quarter_steps_range,
    rate_matched,
    roi_block,
    roi_box,
    roi_cells,
)
from neuralcodec.transforms.networks import STRIDE


def _check_quality(quality: int | None, model: str) -> int:
    if quality is None:
        return default_quality(model)
    levels = available_qualities(model)
    if isinstance(quality, bool) or not isinstance(quality, int) or quality not in levels:
        raise InvalidOption(
            f"quality of model {model} must be an integer in {levels[0]}..{levels[-1]}, not {quality!r}"
        )
    return quality


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
    rate: int | _ByteBudget
    if target_bytes is not None:
        if quality is not None:
            raise InvalidOption("give quality or target_bytes, not both")
        if isinstance(target_bytes, bool) or not isinstance(target_bytes, int) or target_bytes < 1:
            raise InvalidOption(f"target_bytes must be a positive integer, not {target_bytes!r}")
        rate = _ByteBudget(target_bytes)
    else:
        rate = _check_quality(quality, spec.alias)
    if roi_levels is not None and roi is None:
        raise InvalidOption("roi_levels needs an roi")
    roi_levels = (ROI_DEFAULT_BOOST_LEVELS, None) if roi_levels is None else roi_levels
    if isinstance(roi_levels, (str, bytes)) or not isinstance(roi_levels, Sequence) or len(roi_levels) != 2:
        raise InvalidOption(f"roi_levels must be (inside, outside) level offsets, not {roi_levels!r}")
    rgb = imaging.load_rgb(image)
    box = None if roi is None else roi_box(roi, rgb)
    if isinstance(rate, _ByteBudget):
        return _encode_to_fit(spec, rate.max_bytes, rgb, box, roi_levels)
    return _encode(spec, rate, rgb, box, roi_levels)


@dataclass(frozen=True)
class _ByteBudget:
    """compress()'s rate request when it is a file size, not a quality."""

    max_bytes: int


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
    cells = roi_cells(box, (analysed.y_scaled.shape[2], analysed.y_scaled.shape[3]))
    low, high = quarter_steps_range(net, level_index)
    inside = quarter_steps(roi_levels[0], "inside")
    outside = None if roi_levels[1] is None else quarter_steps(roi_levels[1], "outside")
    for steps, what in ((inside, "inside"), (outside, "outside")):
        if steps is not None and not low <= steps <= high:
            raise InvalidOption(
                f"ROI {what} offset {steps / QUARTER_STEPS_PER_LEVEL:+g} levels leaves quality {quality}'s "
                f"allowed range {low / QUARTER_STEPS_PER_LEVEL:+g}..{high / QUARTER_STEPS_PER_LEVEL:+g}"
            )
    if outside is None:
        return rate_matched(net, analysed, pack_roi, cells, inside)
    coded_region = level_region(cells, level_index, inside, outside)
    return pack_roi(net.code_latent(analysed, coded_region), roi_block(cells, inside, outside))


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
        region = checked_region(f.roi, net, f.quality - 1, hyper_hw)
    x_hat = net.decompress(encoded, level_index=f.quality - 1, region=region)
    return imaging.to_image(x_hat, f.width, f.height)
