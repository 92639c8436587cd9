"""Probability models and the rANS coder that turns symbols into bytes."""

from neuralcodec.entropy.coder import CdfTables, decode_symbols, encode_symbols

__all__ = ["CdfTables", "encode_symbols", "decode_symbols"]
