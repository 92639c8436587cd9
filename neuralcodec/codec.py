"""Image <-> .nfc bytes: the one place where models and the container meet.

::

    compress:   image -> load_rgb -> pad to stride -> model.compress(level) -> EncodedLatents
                      -> NfcFile(model id, quality, size, streams) -> pack -> bytes
    decompress: bytes -> unpack (magic, version, CRC, lengths) -> model by id
                      -> model.decompress -> crop -> PIL RGB image
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from neuralcodec import imaging
from neuralcodec.container import NfcFile, pack, unpack
from neuralcodec.errors import CorruptHeader
from neuralcodec.models.hyperprior import EncodedLatents
from neuralcodec.models.registry import (
    DEFAULT_MODEL,
    load_model,
    model_id_hash,
    spec_for,
    spec_for_hash,
)
from neuralcodec.transforms.networks import STRIDE

DEFAULT_QUALITY = 6


@dataclass(frozen=True)
class FileInfo:
    """What ``nfc info`` shows about one .nfc file."""

    model_id: str
    model_alias: str
    quality: int
    width: int
    height: int
    file_bytes: int
    payload_bytes: int

    @property
    def header_bytes(self) -> int:
        return self.file_bytes - self.payload_bytes

    @property
    def bpp(self) -> float:
        return self.file_bytes * 8 / (self.width * self.height)


def available_qualities(model: str = DEFAULT_MODEL) -> list[int]:
    """Quality levels of ``model``, lowest (smallest files) first."""
    return list(range(1, load_model(spec_for(model).alias).levels + 1))


def _check_quality(quality: int, model: str) -> int:
    levels = available_qualities(model)
    if isinstance(quality, bool) or not isinstance(quality, int) or quality not in levels:
        raise ValueError(f"quality must be an integer in {levels[0]}..{levels[-1]}, not {quality!r}")
    return quality


def compress(image: imaging.ImageInput, quality: int = DEFAULT_QUALITY, model: str = DEFAULT_MODEL) -> bytes:
    """Encode ``image`` (PIL image, uint8 HxW[x3|x4] array, path or file bytes) to .nfc bytes."""
    spec = spec_for(model)
    quality = _check_quality(quality, spec.alias)
    rgb = imaging.load_rgb(image)
    height, width = rgb.shape[:2]
    net = load_model(spec.alias)
    encoded = net.compress(imaging.to_padded_tensor(rgb, STRIDE), level=quality - 1)
    return pack(
        NfcFile(
            model_hash=model_id_hash(spec.model_id),
            quality=quality,
            width=width,
            height=height,
            streams=(encoded.hyper_stream, encoded.latent_stream),
        )
    )


def decompress(data: bytes) -> Image.Image:
    """Decode .nfc bytes to an RGB PIL image of the original size."""
    f = unpack(data)
    spec = spec_for_hash(f.model_hash)
    net = load_model(spec.alias)
    if not 1 <= f.quality <= net.levels:
        raise CorruptHeader(f"quality {f.quality} does not exist for model {spec.model_id}")
    if len(f.streams) != 2:
        raise CorruptHeader(f"model {spec.model_id} expects 2 streams, the file has {len(f.streams)}")
    hyper_hw = (-(-f.height // STRIDE), -(-f.width // STRIDE))
    encoded = EncodedLatents(f.streams[0], f.streams[1], hyper_hw=hyper_hw)
    x_hat = net.decompress(encoded, level=f.quality - 1)
    return imaging.to_image(x_hat, f.width, f.height)


def inspect(data: bytes) -> FileInfo:
    """Header facts of an .nfc file (verifies the checksum; decodes no pixels)."""
    f = unpack(data)
    spec = spec_for_hash(f.model_hash)
    return FileInfo(
        model_id=spec.model_id,
        model_alias=spec.alias,
        quality=f.quality,
        width=f.width,
        height=f.height,
        file_bytes=len(data),
        payload_bytes=f.payload_bytes,
    )
