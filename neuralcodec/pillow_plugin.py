"""The .nfc format as a Pillow plugin, registered by ``import neuralcodec``::

    >>> import neuralcodec
    >>> from PIL import Image
    >>> img = Image.open("face.nfc")      # format "NFC", mode "RGB", size from the header
    >>> img.load()                        # decodes (neuralcodec.decompress)
    >>> img.save("copy.nfc", quality=3)   # or roi="auto", model="gan", target_bytes=1500

Opening reads only the header (:func:`~neuralcodec.container.read_size`): the size is known
without torch or decoding. ``load()`` reads the whole file and decodes it, so a damaged or
truncated file raises its :class:`~neuralcodec.errors.NfcError` there (a file cut inside the
header already from ``Image.open``). Saving takes :func:`neuralcodec.compress`'s keyword
arguments (``quality``, ``model``, ``roi``, ``roi_levels``, ``target_bytes``); others that
Pillow passes along are refused with InvalidOption.

This module imports no torch: the codec loads it on the first ``load()`` or ``save()``.
"""

from __future__ import annotations

from typing import IO

from PIL import Image, ImageFile

from neuralcodec.container import read_size, spec
from neuralcodec.errors import InvalidOption

FORMAT = "NFC"
MIME_TYPE = "image/x-nfc"
EXTENSION = ".nfc"
#: What ``Image.save(..., **params)`` passes on to :func:`neuralcodec.compress`.
SAVE_OPTIONS = ("quality", "model", "roi", "roi_levels", "target_bytes")


def _accept(prefix: bytes) -> bool:
    return prefix[: len(spec.MAGIC)] == spec.MAGIC


class NfcImageFile(ImageFile.ImageFile):
    """An .nfc file, decoded on ``load()``."""

    format = FORMAT
    format_description = "neuralcodec face image"

    def _open(self) -> None:
        assert self.fp is not None
        self._size = read_size(self.fp.read(spec.MAX_HEADER_BYTES))
        self._mode = "RGB"
        self.tile = []

    def load(self):
        if self._im is None:
            from neuralcodec.codec import decompress

            assert self.fp is not None
            self.fp.seek(0)
            decoded = decompress(self.fp.read())
            self.im = decoded.im
            self._close_fp()
        return super().load()

    def _close_fp(self) -> None:
        if getattr(self, "_exclusive_fp", False) and self.fp is not None:
            self.fp.close()
        self.fp = None


def _save(im: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    from neuralcodec.codec import compress

    options = {k: v for k, v in im.encoderinfo.items() if k in SAVE_OPTIONS}
    unknown = sorted(set(im.encoderinfo) - set(SAVE_OPTIONS) - _PILLOW_SAVE_KEYS)
    if unknown:
        raise InvalidOption(f"saving as .nfc takes {', '.join(SAVE_OPTIONS)}; not {', '.join(unknown)}")
    fp.write(compress(im, **options))


#: Keys that Image.save itself puts into encoderinfo.
_PILLOW_SAVE_KEYS = frozenset({"append_images", "save_all"})


def register() -> None:
    Image.register_open(FORMAT, NfcImageFile, _accept)
    Image.register_save(FORMAT, _save)
    Image.register_extension(FORMAT, EXTENSION)
    Image.register_mime(FORMAT, MIME_TYPE)
