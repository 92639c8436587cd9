"""Drop-in replacement of CompressAI's ``ans`` coder by ours, for CompressAI's own models.

CompressAI picks its coder by name (``compressai.set_entropy_coder("ans")``) and each
``EntropyModel`` builds a private ``_EntropyCoder`` holding ``compressai.ans.RansEncoder()``
and ``RansDecoder()`` at construction; only ``encode_with_indexes`` / ``decode_with_indexes``
are ever called on them. The classes below have those methods and produce the same bytes
(single-lane streams), so they can stand in::

    with neuralcodec_coder(model):          # any nn.Module holding CompressAI entropy models
        out = model.compress(x)             # streams byte-identical to CompressAI's
        x_hat = model.decompress(**out)

Unlike ``compressai.ans`` they reject corrupt or truncated streams with ``ValueError``
(``neuralcodec._C.RansDecodeError``) instead of crashing or decoding garbage.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from neuralcodec.entropy.coder import _extension


class RansEncoder:
    """``compressai.ans.RansEncoder`` work-alike (``encode_with_indexes`` only)."""

    def encode_with_indexes(self, symbols, indexes, cdfs, cdf_lengths, offsets) -> bytes:
        return _extension().encode_with_indexes(symbols, indexes, cdfs, cdf_lengths, offsets)


class RansDecoder:
    """``compressai.ans.RansDecoder`` work-alike (``decode_with_indexes`` only)."""

    def decode_with_indexes(self, encoded, indexes, cdfs, cdf_lengths, offsets) -> list[int]:
        return _extension().decode_with_indexes(encoded, indexes, cdfs, cdf_lengths, offsets).tolist()


@contextmanager
def neuralcodec_coder(model) -> Iterator[None]:
    """Within the block, every CompressAI entropy model inside ``model`` codes with ours."""
    from compressai.entropy_models import EntropyModel

    swapped = []
    for module in model.modules():
        if isinstance(module, EntropyModel):
            coder = module.entropy_coder
            swapped.append((coder, coder._encoder, coder._decoder))
            coder._encoder, coder._decoder = RansEncoder(), RansDecoder()
    try:
        yield
    finally:
        for coder, encoder, decoder in swapped:
            coder._encoder, coder._decoder = encoder, decoder
