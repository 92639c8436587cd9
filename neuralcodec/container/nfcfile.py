"""Pack and parse .nfc files (layout: :mod:`neuralcodec.container.spec`).

The parser trusts nothing: every length is checked against the bytes actually present and
against the caps in the spec before it is used, and every failure is a named
:class:`~neuralcodec.errors.NfcError`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from neuralcodec.container import spec
from neuralcodec.errors import (
    ChecksumMismatch,
    CorruptHeader,
    LimitExceeded,
    NotAnNfcFile,
    TruncatedFile,
    UnsupportedVersion,
)


@dataclass(frozen=True)
class RoiBlock:
    """Face-aware bit allocation: a latent-grid rectangle and the level offsets in and out of it.

    ``left``, ``top``, ``width``, ``height`` count latent cells; ``inside_quarter_steps`` and
    ``outside_quarter_steps`` are signed offsets from the file's quality in quarter steps
    (:data:`~neuralcodec.container.spec.QUARTER_STEPS_PER_LEVEL` per level; glossary:
    :mod:`neuralcodec.models.hyperprior`, "Rate axis").
    """

    left: int
    top: int
    width: int
    height: int
    inside_quarter_steps: int
    outside_quarter_steps: int


@dataclass(frozen=True)
class NfcFile:
    """The decoded contents of one .nfc file."""

    model_hash: int
    quality: int  # 1-based
    width: int
    height: int
    streams: tuple[bytes, ...]
    roi: RoiBlock | None = None

    @property
    def payload_bytes(self) -> int:
        return sum(len(s) for s in self.streams)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def pack(f: NfcFile) -> bytes:
    """Serialise ``f``; raises LimitExceeded for an image or stream too large for the format,
    ValueError for other fields it cannot hold."""
    if not 0 <= f.model_hash <= 0xFFFF:
        raise ValueError(f"model hash {f.model_hash} does not fit 16 bits")
    if not 1 <= f.quality <= 255:
        raise ValueError(f"quality {f.quality} outside 1..255")
    if f.width < 1 or f.height < 1:
        raise ValueError(f"image size {f.width}x{f.height} not codable")
    if spec.canvas_pixels(f.width, f.height) > spec.MAX_PIXELS:
        raise LimitExceeded(spec.over_cap(f.width, f.height))
    if not 1 <= len(f.streams) <= spec.MAX_STREAMS:
        raise ValueError(f"{len(f.streams)} streams; the format holds 1..{spec.MAX_STREAMS}")
    limit = 1 << (7 * spec.MAX_VARINT_BYTES)
    if max(f.width, f.height) > limit:
        raise LimitExceeded(f"image size {f.width}x{f.height} exceeds the format's varint range")
    for i, s in enumerate(f.streams[:-1]):  # the last stream's length is not stored
        if len(s) >= limit:
            raise LimitExceeded(
                f"stream {i + 1} is {len(s)} bytes; the format holds up to {limit - 1} in every stream "
                "but the last"
            )
    out = bytearray(spec.MAGIC)
    out.append(spec.VERSION)
    out += f.model_hash.to_bytes(2, "big")
    out.append(f.quality)
    out.append(spec.FLAG_ROI if f.roi is not None else 0)
    if f.roi is not None:
        out += _pack_roi(f.roi, limit)
    out += _varint(f.width - 1) + _varint(f.height - 1)
    out.append(len(f.streams))
    for s in f.streams[:-1]:
        out += _varint(len(s))
    for s in f.streams:
        out += s
    out += zlib.crc32(out).to_bytes(spec.CHECKSUM_BYTES, "big")
    return bytes(out)


def _pack_roi(roi: RoiBlock, limit: int) -> bytes:
    cells = (roi.left, roi.top, roi.width, roi.height)
    if min(cells) < 0 or max(cells) >= limit or roi.width < 1 or roi.height < 1:
        raise ValueError(f"ROI rectangle {cells[:2]} + {cells[2]}x{cells[3]} cells not codable")
    offsets = (roi.inside_quarter_steps, roi.outside_quarter_steps)
    low, high = spec.ROI_OFFSET_MIN_QUARTER_STEPS, spec.ROI_OFFSET_MAX_QUARTER_STEPS
    if not all(low <= o <= high for o in offsets):
        raise ValueError(f"ROI level offsets {offsets} (quarter steps) outside {low}..{high}")
    out = b"".join(_varint(c) for c in cells)
    return out + b"".join(o.to_bytes(1, "big", signed=True) for o in offsets)


class _Reader:
    """Cursor over the header bytes that never reads past its end."""

    def __init__(self, data: bytes, end: int):
        self.data = data
        self.pos = 0
        self.end = end

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > self.end:
            raise TruncatedFile(f"file ends inside the {what}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def varint(self, what: str) -> int:
        value = 0
        for i in range(spec.MAX_VARINT_BYTES):
            byte = self.take(1, what)[0]
            value |= (byte & 0x7F) << (7 * i)
            if not byte & 0x80:
                if byte == 0 and i > 0:  # e.g. FF 00 for 127: one value, one encoding
                    raise CorruptHeader(f"{what} is not minimally encoded (a final 00 byte)")
                return value
        raise LimitExceeded(f"{what} is longer than {spec.MAX_VARINT_BYTES} bytes")


def unpack(data: bytes) -> NfcFile:
    """Parse and verify an .nfc file; raises an NfcError subclass for anything wrong."""
    data = bytes(data)
    if len(data) < len(spec.MAGIC) or data[: len(spec.MAGIC)] != spec.MAGIC:
        if spec.MAGIC.startswith(data):
            raise TruncatedFile(f"file is only {len(data)} bytes long")
        raise NotAnNfcFile("not an .nfc file (wrong magic bytes)")
    if len(data) > len(spec.MAGIC) and data[len(spec.MAGIC)] not in spec.SUPPORTED_VERSIONS:
        version = data[len(spec.MAGIC)]
        reads = ", ".join(map(str, sorted(spec.SUPPORTED_VERSIONS)))
        if version < min(spec.SUPPORTED_VERSIONS):
            raise UnsupportedVersion(
                f"this file is from an older .nfc format (version {version}; this decoder reads "
                f"{reads}): re-encode it from the original image with this version of nfc"
            )
        raise UnsupportedVersion(
            f".nfc format version {version} is not supported by this decoder (reads {reads})"
        )
    if len(data) < spec.MIN_FILE_BYTES:
        raise TruncatedFile(f"file is only {len(data)} bytes long")

    body_end = len(data) - spec.CHECKSUM_BYTES
    stored = int.from_bytes(data[body_end:], "big")
    if zlib.crc32(data[:body_end]) != stored:
        raise ChecksumMismatch("checksum mismatch: the file is damaged or truncated")

    r = _Reader(data, body_end)
    model_hash, quality, roi, width, height = _read_fields(r)
    count = r.take(1, "stream count")[0]
    if not 1 <= count <= spec.MAX_STREAMS:
        raise CorruptHeader(f"stream count {count} outside 1..{spec.MAX_STREAMS}")
    lengths = [r.varint("stream length") for _ in range(count - 1)]
    streams = [r.take(n, "stream data") for n in lengths]
    streams.append(r.take(body_end - r.pos, "stream data"))
    return NfcFile(model_hash, quality, width, height, tuple(streams), roi)


def read_size(prefix: bytes) -> tuple[int, int]:
    """(width, height) from the start of an .nfc file (:data:`~neuralcodec.container.spec.MAX_HEADER_BYTES`
    bytes are enough), without the checksum, which needs the whole file: what an image viewer
    shows before decoding. Raises an NfcError where the fields are not there or not valid.
    """
    prefix = bytes(prefix)
    if not prefix.startswith(spec.MAGIC):
        raise NotAnNfcFile("not an .nfc file (wrong magic bytes)")
    if len(prefix) > len(spec.MAGIC) and prefix[len(spec.MAGIC)] not in spec.SUPPORTED_VERSIONS:
        raise UnsupportedVersion(f".nfc format version {prefix[len(spec.MAGIC)]} is not supported")
    _, _, _, width, height = _read_fields(_Reader(prefix, len(prefix)))
    return width, height


def _read_fields(r: _Reader) -> tuple[int, int, RoiBlock | None, int, int]:
    """Magic and version (already checked) up to the height: model hash, quality, ROI, width, height."""
    r.take(len(spec.MAGIC) + 1, "magic")
    model_hash = int.from_bytes(r.take(2, "model id"), "big")
    quality = r.take(1, "quality")[0]
    flags = r.take(1, "flags")[0]
    if flags & ~spec.KNOWN_FLAGS:
        raise CorruptHeader(f"unknown header flags 0x{flags:02x}")
    roi = _read_roi(r) if flags & spec.FLAG_ROI else None
    width = r.varint("width") + 1
    height = r.varint("height") + 1
    if spec.canvas_pixels(width, height) > spec.MAX_PIXELS:
        raise LimitExceeded(spec.over_cap(width, height))
    return model_hash, quality, roi, width, height


def _read_roi(r: _Reader) -> RoiBlock:
    left, top, width, height = (r.varint(f"ROI {what}") for what in ("left", "top", "width", "height"))
    if width < 1 or height < 1:
        raise CorruptHeader(f"ROI rectangle of {width}x{height} latent cells is empty")
    inside, outside = (int.from_bytes(r.take(1, "ROI level offset"), "big", signed=True) for _ in range(2))
    return RoiBlock(left, top, width, height, inside_quarter_steps=inside, outside_quarter_steps=outside)
