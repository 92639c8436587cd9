"""What a .nfc file and the catalog say without running a model: header facts, qualities.

Imports no torch (nor anything that does), so that ``nfc info`` and
:func:`neuralcodec.inspect` start in a fraction of a second; :mod:`neuralcodec.codec`
re-exports these names.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

from neuralcodec.container import unpack
from neuralcodec.container.spec import QUARTER_STEPS_PER_LEVEL
from neuralcodec.errors import InvalidOption
from neuralcodec.models.catalog import DEFAULT_MODEL, spec_for, spec_for_hash
from neuralcodec.transforms.strides import LATENT_STRIDE


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


def is_integer(value) -> bool:
    """An int or a numpy integer, not a bool (numpy's bool is no numbers.Integral either)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def checked_quality(quality: int | None, model: str = DEFAULT_MODEL) -> int:
    """``quality`` as an int if ``model`` has it, its default for None; InvalidOption otherwise."""
    if quality is None:
        return default_quality(model)
    levels = available_qualities(model)
    if not is_integer(quality) or int(quality) not in levels:
        raise InvalidOption(
            f"quality of model {model} must be an integer in {levels[0]}..{levels[-1]}, not {quality!r}",
            option="quality",
        )
    return int(quality)


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
