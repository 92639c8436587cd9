"""The .nfc container: header, streams and checksum. Imports no torch."""

from neuralcodec.container.nfcfile import NfcFile, RoiBlock, pack, read_size, unpack

__all__ = ["NfcFile", "RoiBlock", "pack", "read_size", "unpack"]
