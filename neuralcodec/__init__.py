"""neuralcodec: a learned image codec for face photos, with a safe .nfc file format.

    >>> import neuralcodec
    >>> data = neuralcodec.compress("face.png", quality=3)   # -> bytes
    >>> img = neuralcodec.decompress(data)                    # -> PIL.Image (RGB)
    >>> sharp = neuralcodec.decompress(data, decoder="realistic")  # the GAN decoder

The codec functions load torch on first use, so that importing the package (and ``nfc --help``)
stays fast; ``inspect`` and the quality queries never load it. Importing it registers the .nfc
format with Pillow (:mod:`neuralcodec.pillow_plugin`): ``Image.open("face.nfc")`` and
``img.save("face.nfc", quality=3)`` work.
"""

from neuralcodec.errors import (
    ChecksumMismatch,
    CorruptBitstream,
    CorruptHeader,
    ExtensionNotBuilt,
    InvalidImage,
    InvalidOption,
    LimitExceeded,
    MissingDependency,
    NfcError,
    NotAnNfcFile,
    OutOfMemory,
    TruncatedFile,
    UnknownModel,
    UnsupportedVersion,
)
from neuralcodec.models.catalog import DEFAULT_QUALITY
from neuralcodec.pillow_plugin import register as _register_pillow_plugin

#: The one place the version is written (pyproject.toml reads it from here).
__version__ = "0.1.0"

_register_pillow_plugin()

_CODEC_API = (
    "compress",
    "compress_batch",
    "decompress",
    "decompress_batch",
)
#: What needs no torch: header facts and the catalog (neuralcodec.info).
_INFO_API = (
    "inspect",
    "available_qualities",
    "default_quality",
    "FileInfo",
)

__all__ = [
    *_CODEC_API,
    *_INFO_API,
    "DEFAULT_QUALITY",
    "NfcError",
    "InvalidOption",
    "NotAnNfcFile",
    "UnsupportedVersion",
    "TruncatedFile",
    "ChecksumMismatch",
    "CorruptHeader",
    "CorruptBitstream",
    "UnknownModel",
    "LimitExceeded",
    "OutOfMemory",
    "InvalidImage",
    "ExtensionNotBuilt",
    "MissingDependency",
]


def __getattr__(name: str):
    if name in _CODEC_API:
        from neuralcodec import codec

        return getattr(codec, name)
    if name in _INFO_API:
        from neuralcodec import info

        return getattr(info, name)
    raise AttributeError(f"module 'neuralcodec' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
