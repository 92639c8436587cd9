"""Probability models and the rANS coder that turns symbols into bytes."""

from neuralcodec.entropy.coder import (
    CdfTables,
    decode_symbols,
    decode_symbols_batch,
    decode_symbols_batch_cuda,
    encode_symbols,
    encode_symbols_batch,
)

__all__ = [
    "CdfTables",
    "decode_symbols",
    "decode_symbols_batch",
    "decode_symbols_batch_cuda",
    "encode_symbols",
    "encode_symbols_batch",
]
