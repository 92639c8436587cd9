"""Integer symbols <-> bytes with the bounds-checked rANS coder of ``neuralcodec._C``.

The coder needs, per symbol, an index choosing one of K quantised CDF tables::

    symbols  int32[n]   values to code (out-of-range values use the escape/bypass path)
    indexes  int32[n]   table of each symbol, in [0, K)
    tables   CdfTables  cdfs int32[K, L] (16-bit precision), lengths int32[K], offsets int32[K]

The tables are frozen into the shipped weights, never recomputed from floats at run time, so
encoder and decoder always agree on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np

from neuralcodec.errors import CorruptBitstream, ExtensionNotBuilt

BUILD_COMMAND = "pip install --no-build-isolation -e ."


@dataclass(frozen=True)
class CdfTables:
    """Quantised CDF tables of one entropy model (CompressAI's layout)."""

    cdfs: np.ndarray
    lengths: np.ndarray
    offsets: np.ndarray


def _extension() -> ModuleType:
    # _C is linked against torch's libc10; importing torch first puts it on the loader path.
    import torch  # noqa: F401

    try:
        from neuralcodec import _C
    except ImportError as exc:
        raise ExtensionNotBuilt(
            f"the compiled extension neuralcodec._C is missing ({exc}); build it with: {BUILD_COMMAND}"
        ) from None
    return _C


def encode_symbols(symbols: np.ndarray, indexes: np.ndarray, tables: CdfTables) -> bytes:
    """Entropy-code ``symbols`` (any shape, flattened in C order)."""
    # No dtype conversion here: a silent cast could wrap values; the binding rejects non-int32.
    return _extension().encode_with_indexes(
        np.ascontiguousarray(symbols).ravel(),
        np.ascontiguousarray(indexes).ravel(),
        tables.cdfs,
        tables.lengths,
        tables.offsets,
    )


def decode_symbols(data: bytes, indexes: np.ndarray, tables: CdfTables) -> np.ndarray:
    """Inverse of :func:`encode_symbols`; returns int32 symbols shaped like ``indexes``.

    Raises :class:`CorruptBitstream` for any stream the coder rejects.
    """
    ext = _extension()
    try:
        values = ext.decode_with_indexes(
            data,
            np.ascontiguousarray(indexes).ravel(),
            tables.cdfs,
            tables.lengths,
            tables.offsets,
        )
    except (ext.RansDecodeError, ext.RansArgumentError) as exc:
        raise CorruptBitstream(f"entropy-coded stream is corrupt: {exc}") from None
    return np.asarray(values, dtype=np.int32).reshape(indexes.shape)
