"""The rANS coder that turns symbols into bytes, given integer CDF tables.

``coder`` wraps the C++ coder (``neuralcodec._C``; single images and batches, CPU threads or
CUDA), ``reference`` is a slow pure-Python model of the same bitstream that the C++ coder is
tested and fuzzed against, and ``compressai_coder`` puts the coder into CompressAI's models.
The probability models whose CDFs feed the coder (factorised prior, Gaussian conditional)
belong to the models (``neuralcodec.models``).
"""

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
