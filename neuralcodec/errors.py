"""Every failure the library reports on purpose is an :class:`NfcError` (the input could
not be coded) or an :class:`InvalidOption` (the caller asked for something that does not
exist: a quality level, a model, a region).

Callers (the CLI first of all) catch these two and show their one-line message; anything
else escaping the library, a plain ``ValueError`` included, is a bug.
"""

from __future__ import annotations


class NfcError(Exception):
    """Base class of all neuralcodec errors."""


class InvalidOption(ValueError):
    """An argument names something that does not exist (quality, model, decoder, ROI, size).

    A ``ValueError``, so callers that catch that keep working. ``option`` names the argument
    of :func:`neuralcodec.compress` / :func:`neuralcodec.decompress` at fault (``"quality"``,
    ``"decoder"``, ``"roi"``, ...), so that a front end can name its own flag for it.
    """

    def __init__(self, message: str, option: str | None = None):
        super().__init__(message)
        self.option = option


# --- reading .nfc files -------------------------------------------------------


class NotAnNfcFile(NfcError):
    """The bytes do not start with the .nfc magic."""


class UnsupportedVersion(NfcError):
    """The file's format version is not one this decoder reads."""


class TruncatedFile(NfcError):
    """The file ends before the lengths in its header say it should."""


class ChecksumMismatch(NfcError):
    """The CRC32 stored in the file does not match its contents."""


class CorruptHeader(NfcError):
    """The header passed its checksum but holds values no encoder writes."""


class CorruptBitstream(NfcError):
    """The header is well formed but the entropy-coded payload is not."""


class UnknownModel(NfcError):
    """The model id names no model this installation ships."""


class LimitExceeded(NfcError):
    """An image or stream is larger than the configured safety caps."""


# --- reading images -----------------------------------------------------------


class InvalidImage(NfcError):
    """The input cannot be read as an image, or has an unusable shape or mode."""


# --- installation -------------------------------------------------------------


class ExtensionNotBuilt(NfcError):
    """The compiled extension ``neuralcodec._C`` is missing."""


class MissingDependency(NfcError, ImportError):
    """An optional library is not installed; the message names the pip extra that brings it
    (``--roi auto`` needs OpenCV: ``pip install 'neuralcodec[roi]'``)."""


# --- resources ----------------------------------------------------------------


class OutOfMemory(NfcError, MemoryError):
    """Coding ran out of memory (the image is too large for the memory the process has)."""
