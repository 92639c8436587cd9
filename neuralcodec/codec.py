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

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
from PIL import Image

from neuralcodec import imaging
from neuralcodec.container import NfcFile, RoiBlock, pack, unpack
from neuralcodec.container.spec import (
    QUARTER_STEPS_PER_LEVEL,
)
from neuralcodec.errors import CorruptHeader, InvalidOption, NfcError, OutOfMemory
from neuralcodec.info import (  # noqa: F401 (FileInfo, the quality queries and inspect are re-exported)
    FileInfo,
    available_qualities,
    checked_quality,
    default_quality,
    inspect,
    is_integer,
)
from neuralcodec.models.catalog import (
    DEFAULT_MODEL,
    ModelSpec,
    decoder_spec,
    model_id_hash,
    spec_for,
    spec_for_hash,
)
from neuralcodec.models.hyperprior import EncodedLatents, FaceHyperprior, LevelRegion
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
from neuralcodec.transforms.tiles import TILED_ABOVE_PIXELS, Tiling, analyse_tiled


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
    *,
    tiling: Tiling | None = None,
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

    ``tiling``: the tile sizes of the transforms (None: :data:`TILING` for images whose canvas
    is over :data:`TILED_ABOVE_PIXELS`, the rest whole); the bytes do not depend on it.
    Raises :class:`~neuralcodec.errors.OutOfMemory` where memory runs out.
    """
    request = _request(quality, model, roi, roi_levels, target_bytes, tiling)
    with _out_of_memory_named("encoding"):
        rgb = imaging.load_rgb(image)
        with _threads_set():
            return _compress_loaded(request, [rgb], [request.box(rgb)])[0]


def compress_batch(
    images: Iterable[imaging.ImageInput],
    quality: int | None = None,
    model: str = DEFAULT_MODEL,
    roi: RoiInput = None,
    roi_levels: tuple[float, float | None] | None = None,
    target_bytes: int | None = None,
) -> list[bytes]:
    """:func:`compress` of many images with the same options: the same bytes, image for image.

    Images of any sizes may be mixed. The coder codes every stream of a batch in one call
    and the per-call work of the model is done once (:meth:`FaceHyperprior.analyse_batch`);
    images are read and coded in runs of up to :data:`BATCH_PIXELS` pixels. An image that
    cannot be read raises its NfcError (or its ROI's InvalidOption) with ``image i:`` before
    the message.
    """
    request = _request(quality, model, roi, roi_levels, target_bytes, None)

    def loaded() -> Iterator[tuple[np.ndarray, tuple[int, int, int, int] | None]]:
        for i, image in enumerate(images):
            with _naming(f"image {i}"):
                rgb = imaging.load_rgb(image)
                yield rgb, request.box(rgb)

    out: list[bytes] = []
    with _out_of_memory_named("encoding"):
        for run in _runs(loaded(), lambda item: _padded_pixels((item[0].shape[0], item[0].shape[1]))):
            with _threads_set():
                out += _compress_loaded(request, [rgb for rgb, _ in run], [box for _, box in run])
    return out


#: Most pixels (padded) a batch function holds in its tensors at a time; larger batches are
#: coded in runs of this size (the latents and float64 entropy parameters of 2 Mpx take
#: about 50 MB).
BATCH_PIXELS = 1 << 21

#: Images whose canvas has more pixels than :data:`TILED_ABOVE_PIXELS` run the analysis and
#: synthesis transforms over these tiles (:mod:`neuralcodec.transforms.tiles`), which keeps
#: their working set bounded; smaller ones run them whole, as they always have. Both give
#: the same bytes and pixels (tests/test_tiles.py).
TILING = Tiling()


_threads_override: list[int] = []


def set_threads(threads: int | None) -> None:
    """Fix the torch threads of every coding call of this process, or None (the default) for
    torch's own count (``torch.get_num_threads()``).

    Batch and worker code, which shares the CPU among processes, sets its share (``nfc``'s
    batch mode and the Ray workers do). On a busy machine one thread can be much faster than
    two: docs/format.md, "Threads", has the measurements.
    """
    if threads is not None and (isinstance(threads, bool) or int(threads) < 1):
        raise InvalidOption(f"threads must be a positive integer or None, not {threads!r}", option="threads")
    _threads_override[:] = [] if threads is None else [int(threads)]


@contextmanager
def _threads_set() -> Iterator[None]:
    """Run a coding call on the threads :func:`set_threads` fixed, if any; torch's otherwise.

    torch's thread count is changed only where it differs, and put back after the call.
    """
    before = torch.get_num_threads()
    threads = _threads_override[0] if _threads_override else before
    if threads == before:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _tiling_for(size: tuple[int, int], tiling: Tiling | None) -> Tiling | None:
    """The tiling to code an image of ``size`` (height, width) with, None for whole."""
    if tiling is not None:
        return tiling
    return TILING if _padded_pixels(size) > TILED_ABOVE_PIXELS else None


def _is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, (MemoryError, torch.OutOfMemoryError)):
        return True
    # The CPU allocator reports a failed allocation as a plain RuntimeError.
    return isinstance(exc, RuntimeError) and (
        "can't allocate memory" in str(exc) or "out of memory" in str(exc).lower()
    )


@contextmanager
def _out_of_memory_named(what: str) -> Iterator[None]:
    """Re-raise running out of memory (Python's, numpy's, torch's, the extension's) as
    :class:`OutOfMemory`, whose one-line message the CLI shows."""
    try:
        yield
    except (MemoryError, RuntimeError) as exc:
        if not _is_out_of_memory(exc):
            raise
        raise OutOfMemory(
            f"out of memory while {what}: free memory, or give the process more "
            "(a tiled image needs about 1.5 GB at 24 Mpx)"
        ) from None


_T = TypeVar("_T")


def _padded_pixels(size: tuple[int, int]) -> int:
    height, width = size
    return -(-height // STRIDE) * STRIDE * -(-width // STRIDE) * STRIDE


def _runs(items: Iterable[_T], pixels: Callable[[_T], int]) -> Iterator[list[_T]]:
    """Consecutive runs of ``items`` of at most BATCH_PIXELS pixels (at least one item each),
    taken from ``items`` only as each run is needed."""
    run: list[_T] = []
    total = 0
    for item in items:
        n = pixels(item)
        if run and total + n > BATCH_PIXELS:
            yield run
            run, total = [], 0
        run.append(item)
        total += n
    if run:
        yield run


@contextmanager
def _naming(what: str) -> Iterator[None]:
    """Re-raise an NfcError or InvalidOption with ``what: `` before its message."""
    try:
        yield
    except (NfcError, InvalidOption) as exc:
        raise type(exc)(f"{what}: {exc}") from None


@dataclass(frozen=True)
class _Request:
    """compress()'s options, checked: the model, the rate (a quality or a byte budget), the ROI."""

    spec: ModelSpec
    rate: int | _ByteBudget
    roi: RoiInput
    roi_levels: tuple[float, float | None]
    tiling: Tiling | None

    def box(self, rgb) -> tuple[int, int, int, int] | None:
        return None if self.roi is None else roi_box(self.roi, rgb)


def _request(quality, model, roi, roi_levels, target_bytes, tiling) -> _Request:
    spec = spec_for(model)
    rate: int | _ByteBudget
    if target_bytes is not None:
        if quality is not None:
            raise InvalidOption("give quality or target_bytes, not both")
        if not is_integer(target_bytes) or target_bytes < 1:
            raise InvalidOption(f"target_bytes must be a positive integer, not {target_bytes!r}")
        rate = _ByteBudget(int(target_bytes))
    else:
        rate = checked_quality(quality, spec.alias)
    if roi_levels is not None and roi is None:
        raise InvalidOption("roi_levels needs an roi")
    roi_levels = (ROI_DEFAULT_BOOST_LEVELS, None) if roi_levels is None else roi_levels
    if isinstance(roi_levels, (str, bytes)) or not isinstance(roi_levels, Sequence) or len(roi_levels) != 2:
        raise InvalidOption(f"roi_levels must be (inside, outside) level offsets, not {roi_levels!r}")
    if tiling is not None and not isinstance(tiling, Tiling):
        raise InvalidOption(f"tiling must be a Tiling or None, not {tiling!r}", option="tiling")
    return _Request(spec, rate, roi, (roi_levels[0], roi_levels[1]), tiling)


def _compress_loaded(request: _Request, rgbs: list, boxes: list) -> list[bytes]:
    rate = request.rate
    if isinstance(rate, _ByteBudget):
        return [
            _encode_to_fit(request.spec, rate.max_bytes, rgb, box, request.roi_levels, request.tiling)
            for rgb, box in zip(rgbs, boxes, strict=True)
        ]
    return _encode_batch(request.spec, rate, rgbs, boxes, request.roi_levels, request.tiling)


@dataclass(frozen=True)
class _ByteBudget:
    """compress()'s rate request when it is a file size, not a quality."""

    max_bytes: int


def _encode_to_fit(spec: ModelSpec, target_bytes: int, rgb, box, roi_levels, tiling) -> bytes:
    """The file of the highest quality of ``spec`` that is at most ``target_bytes`` long."""
    qualities = list(spec.qualities)
    best: bytes | None = None
    smallest: int | None = None
    lo, hi = 0, len(qualities) - 1
    while lo <= hi:  # bisect the qualities: sizes grow with quality
        mid = (lo + hi) // 2
        data = _encode_batch(spec, qualities[mid], [rgb], [box], roi_levels, tiling)[0]
        if len(data) <= target_bytes:
            best, lo = data, mid + 1
        else:
            smallest = len(data) if mid == 0 else smallest
            hi = mid - 1
    if best is None:
        raise InvalidOption(
            f"no quality of {spec.alias} fits {target_bytes} bytes: its smallest file for this image "
            f"is {smallest} bytes (quality {qualities[0]})",
            option="target_bytes",
        )
    return best


def _encode_batch(
    spec: ModelSpec, quality: int, rgbs: list, boxes: list, roi_levels, tiling: Tiling | None = None
) -> list[bytes]:
    """The files of ``rgbs`` at ``quality``: the images without an ROI box coded together,
    those with one each on its own (an ROI file's rate search codes its latent many times)."""
    net = load_model(spec.alias)
    level_index = quality - 1
    analysed = net.analyse_latents([_analysis(net, rgb, tiling) for rgb in rgbs], level_index)
    files: list[bytes | None] = [None] * len(rgbs)
    plain = [i for i, box in enumerate(boxes) if box is None]
    for i, encoded in zip(plain, net.code_latents([analysed[i] for i in plain]), strict=True):
        height, width = rgbs[i].shape[:2]
        files[i] = _pack(spec, quality, width, height, encoded)
    for i, box in enumerate(boxes):
        if box is not None:
            files[i] = _encode_roi(spec, net, quality, rgbs[i].shape[:2], analysed[i], box, roi_levels)
    return [f for f in files if f is not None]


@torch.no_grad()
def _analysis(net: FaceHyperprior, rgb: np.ndarray, tiling: Tiling | None) -> torch.Tensor:
    """The analysis transform's output for uint8 ``rgb``, whole or over tiles (:func:`_tiling_for`)."""
    size = (rgb.shape[0], rgb.shape[1])
    tiles = _tiling_for(size, tiling)
    if tiles is None:
        return net.analysis(imaging.to_padded_tensor(rgb, STRIDE))
    canvas = (-(-size[0] // STRIDE) * STRIDE, -(-size[1] // STRIDE) * STRIDE)
    return analyse_tiled(net.analysis, rgb, canvas, tiles)


def _encode_roi(spec: ModelSpec, net, quality: int, size, analysed, box, roi_levels) -> bytes:
    height, width = size
    level_index = quality - 1

    def pack_roi(encoded: EncodedLatents, block: RoiBlock | None) -> bytes:
        return _pack(spec, quality, width, height, encoded, block)

    cells = roi_cells(box, (analysed.y_scaled.shape[2], analysed.y_scaled.shape[3]))
    low, high = quarter_steps_range(net, level_index)
    inside = quarter_steps(roi_levels[0], "inside")
    outside = None if roi_levels[1] is None else quarter_steps(roi_levels[1], "outside")
    for steps, what in ((inside, "inside"), (outside, "outside")):
        if steps is not None and not low <= steps <= high:
            raise InvalidOption(
                f"ROI {what} offset {steps / QUARTER_STEPS_PER_LEVEL:+g} levels leaves quality {quality}'s "
                f"allowed range {low / QUARTER_STEPS_PER_LEVEL:+g}..{high / QUARTER_STEPS_PER_LEVEL:+g}",
                option="roi_levels",
            )
    if outside is None:
        return rate_matched(net, analysed, pack_roi, cells, inside)
    coded_region = level_region(cells, level_index, inside, outside)
    return pack_roi(net.code_latent(analysed, coded_region), roi_block(cells, inside, outside))


NfcInput = bytes | bytearray | memoryview | str | os.PathLike
"""An .nfc file's bytes, or its path."""


def decompress(data: NfcInput, decoder: str | None = None, *, tiling: Tiling | None = None) -> Image.Image:
    """Decode an .nfc file (its bytes, or a path to it) to an RGB PIL image of the original size.

    ``decoder``: None decodes the way the file's writer chose (the model id in the header);
    ``"faithful"`` or ``"realistic"`` picks that decoder of the file's model family instead
    (ValueError where the family has none, or it was not trained for the file's quality).
    ``tiling``: as in :func:`compress`; the pixels do not depend on it. Raises
    :class:`~neuralcodec.errors.OutOfMemory` where memory runs out.
    """
    if tiling is not None and not isinstance(tiling, Tiling):
        raise InvalidOption(f"tiling must be a Tiling or None, not {tiling!r}", option="tiling")
    parsed = _parse(_read(data), decoder)
    with (
        _out_of_memory_named("decoding"),
        _threads_set(),
    ):
        return _decode_parsed([parsed], tiling)[0]


def decompress_batch(files: Iterable[NfcInput], decoder: str | None = None) -> list[Image.Image]:
    """:func:`decompress` of many files: the same pixels, file for file.

    Files of any models, qualities and sizes may be mixed; those of one model are decoded
    together (one coder call for all their streams; :meth:`FaceHyperprior.decompress_batch`),
    up to :data:`BATCH_PIXELS` pixels at a time. A bad file raises its NfcError with ``file i:``
    before the message.
    """
    parsed = []
    for i, data in enumerate(files):
        with _naming(f"file {i}"):
            parsed.append(_parse(_read(data), decoder))
    images: list[Image.Image | None] = [None] * len(parsed)
    by_model: dict[str, list[int]] = {}
    for i, p in enumerate(parsed):
        by_model.setdefault(p.spec.alias, []).append(i)
    for members in by_model.values():
        for indexes in _runs(
            members, lambda i: _padded_pixels((parsed[i].file.height, parsed[i].file.width))
        ):
            try:
                with _out_of_memory_named("decoding"), _threads_set():
                    decoded = _decode_parsed([parsed[i] for i in indexes])
            except OutOfMemory:
                raise
            except NfcError:
                for i in indexes:  # find the bad file, to name it
                    with _naming(f"file {i}"):
                        _decode_parsed([parsed[i]])
                raise
            for i, image in zip(indexes, decoded, strict=True):
                images[i] = image
    return [image for image in images if image is not None]


def _read(data: NfcInput) -> bytes:
    """An .nfc file's bytes, read from ``data`` where it is a path."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if not isinstance(data, (str, os.PathLike)):
        raise TypeError(f"expected .nfc bytes or a path, not {type(data).__name__}")
    return imaging.read_file(data)


@dataclass(frozen=True)
class _Parsed:
    """A checked .nfc file and the decoder that will decode it."""

    file: NfcFile
    spec: ModelSpec
    region: LevelRegion | None

    @property
    def encoded(self) -> EncodedLatents:
        hyper_hw = (-(-self.file.height // STRIDE), -(-self.file.width // STRIDE))
        return EncodedLatents(self.file.streams[0], self.file.streams[1], hyper_hw=hyper_hw)


def _parse(data: bytes, decoder: str | None) -> _Parsed:
    f = unpack(data)
    spec = spec_for_hash(f.model_hash)
    if f.quality not in spec.qualities:  # no encoder writes it, whichever decoder is asked for
        raise CorruptHeader(f"quality {f.quality} does not exist for model {spec.model_id}")
    if decoder is not None:
        spec = decoder_spec(spec, decoder)
    net = load_model(spec.alias)
    if not 1 <= f.quality <= net.levels:
        raise CorruptHeader(f"quality {f.quality} does not exist for model {spec.model_id}")
    if f.quality not in spec.qualities:
        qualities = spec.qualities
        raise InvalidOption(
            f"the {spec.decoder} decoder ({spec.model_id}) covers qualities {qualities[0]}..{qualities[-1]}, "
            f"the file has quality {f.quality}; decode it with the faithful decoder",
            option="decoder",
        )
    if len(f.streams) != 2:
        raise CorruptHeader(f"model {spec.model_id} expects 2 streams, the file has {len(f.streams)}")
    hyper_hw = (-(-f.height // STRIDE), -(-f.width // STRIDE))
    region = None if f.roi is None else checked_region(f.roi, net, f.quality - 1, hyper_hw)
    return _Parsed(f, spec, region)


def _decode_parsed(parsed: Sequence[_Parsed], tiling: Tiling | None = None) -> list[Image.Image]:
    """Decode files of one model: those to tile one by one, the others together."""
    net = load_model(parsed[0].spec.alias)
    images: list[Image.Image | None] = [None] * len(parsed)
    whole = []
    for i, p in enumerate(parsed):
        size = (p.file.height, p.file.width)
        tiles = _tiling_for(size, tiling)
        if tiles is None:
            whole.append(i)
            continue
        rgb = net.decompress_tiled(p.encoded, p.file.quality - 1, p.region, size, tiles)
        images[i] = Image.fromarray(rgb, mode="RGB")
    x_hats = net.decompress_batch(
        [parsed[i].encoded for i in whole],
        [parsed[i].file.quality - 1 for i in whole],
        [parsed[i].region for i in whole],
    )
    for i, x in zip(whole, x_hats, strict=True):
        images[i] = imaging.to_image(x, parsed[i].file.width, parsed[i].file.height)
    return [image for image in images if image is not None]
