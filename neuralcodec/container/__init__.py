"""The .nfc container: header, streams and checksum. Imports no torch."""

from neuralcodec.container.nfcfile import NfcFile, pack, unpack

__all__ = ["NfcFile", "pack", "unpack"]
