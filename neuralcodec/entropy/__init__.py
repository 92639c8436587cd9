"""Probability models and the rANS coder that turns symbols into bytes with their CDF tables.

``priors`` holds the frozen run-time entropy models read from a weights file (the factorised
prior of the hyper-latent, the Gaussian conditional of the latent: integer CDF tables, medians,
the scale -> table rule); ``coder`` wraps the C++ coder (``neuralcodec._C``; single images and
batches, CPU threads or CUDA); ``reference`` is a slow pure-Python model of the same bitstream
that the C++ coder is tested and fuzzed against; ``compressai_coder`` puts the coder into
CompressAI's models (benchmarks of the CompressAI peer only). Nothing here imports CompressAI
at module level: coding needs torch, numpy and the extension only.
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
