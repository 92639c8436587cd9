"""Integer symbols <-> bytes with the bounds-checked rANS coder of ``neuralcodec._C``.

The coder needs, per symbol, an index choosing one of K quantised CDF tables::

    symbols  int32[n]   values to code (out-of-range values use the escape/bypass path)
    indexes  int32[n]   table of each symbol, in [0, K)
    tables   CdfTables  cdfs int32[K, L] (16-bit precision), lengths int32[K], offsets int32[K]

Streams are multi-lane (docs/format.md, "Lanes"): a message of more than 65,536 symbols is
split into independent lanes that threads code at once; smaller messages have one lane and
are exactly CompressAI's ``ans`` bytes. ``threads=0`` uses one thread per core; the bytes never
depend on the thread count. The batch functions spread every lane of many messages (e.g. the
latents of many images) over the threads in one call::

    [symbols_0, symbols_1, ...] --encode_symbols_batch--> [stream_0, stream_1, ...]
    [stream_0, stream_1, ...]   --decode_symbols_batch--> [symbols_0, symbols_1, ...]

The tables are frozen into the shipped weights, never recomputed from floats at run time, so
encoder and decoder always agree on them.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def _flat(array: np.ndarray) -> np.ndarray:
    # No dtype conversion here: a silent cast could wrap values; the binding rejects non-int32.
    return np.ascontiguousarray(array).ravel()


def encode_symbols(symbols: np.ndarray, indexes: np.ndarray, tables: CdfTables, threads: int = 0) -> bytes:
    """Entropy-code ``symbols`` (any shape, flattened in C order) as one multi-lane stream."""
    return encode_symbols_batch([symbols], [indexes], tables, threads)[0]


def decode_symbols(data: bytes, indexes: np.ndarray, tables: CdfTables, threads: int = 0) -> np.ndarray:
    """Inverse of :func:`encode_symbols`; returns int32 symbols shaped like ``indexes``.

    Raises :class:`CorruptBitstream` for any stream the coder rejects.
    """
    return decode_symbols_batch([data], [indexes], tables, threads)[0]


def encode_symbols_batch(
    symbols: Sequence[np.ndarray], indexes: Sequence[np.ndarray], tables: CdfTables, threads: int = 0
) -> list[bytes]:
    """:func:`encode_symbols` of many messages sharing ``tables``, in one call."""
    return _extension().encode_lanes_batch(
        [_flat(s) for s in symbols],
        [_flat(i) for i in indexes],
        tables.cdfs,
        tables.lengths,
        tables.offsets,
        threads,
    )


def decode_symbols_batch(
    streams: Sequence[bytes], indexes: Sequence[np.ndarray], tables: CdfTables, threads: int = 0
) -> list[np.ndarray]:
    """:func:`decode_symbols` of many streams sharing ``tables``, in one call.

    Raises :class:`CorruptBitstream` naming the first stream the coder rejects.
    """
    ext = _extension()
    try:
        values = ext.decode_lanes_batch(
            list(streams), [_flat(i) for i in indexes], tables.cdfs, tables.lengths, tables.offsets, threads
        )
    except (ext.RansDecodeError, ext.RansArgumentError) as exc:
        raise CorruptBitstream(f"entropy-coded stream is corrupt: {exc}") from None
    return [v.reshape(np.shape(i)) for v, i in zip(values, indexes, strict=True)]


def decode_symbols_batch_cuda(streams: Sequence[bytes], indexes: Sequence, tables) -> list:
    """:func:`decode_symbols_batch` on the GPU: one CUDA thread per lane of every stream.

    indexes: int32 CUDA tensors, one per stream; tables: ``(cdfs, lengths, offsets)`` as
    int32 CUDA tensors. Returns int32 CUDA tensors shaped like ``indexes``, bit-identical
    to the CPU decoder. Raises :class:`CorruptBitstream` for any stream the coder rejects.
    """
    import torch

    ext = _extension()
    if not getattr(ext, "WITH_CUDA", False):
        raise ExtensionNotBuilt(
            f"neuralcodec._C was built without CUDA kernels; rebuild with WITH_CUDA=1 {BUILD_COMMAND}"
        )
    data = torch.from_numpy(np.frombuffer(bytearray(b"".join(streams)), dtype=np.uint8))
    stream_ends = torch.tensor(np.cumsum([len(s) for s in streams], dtype=np.int64))
    symbol_ends = torch.tensor(np.cumsum([i.numel() for i in indexes], dtype=np.int64))
    flat = torch.cat([i.reshape(-1) for i in indexes]) if indexes else torch.zeros(0, dtype=torch.int32)
    cdfs, lengths, offsets = tables
    try:
        values = ext.decode_lanes_batch_cuda(data, stream_ends, flat, symbol_ends, cdfs, lengths, offsets)
    except (ext.RansDecodeError, ext.RansArgumentError) as exc:
        raise CorruptBitstream(f"entropy-coded stream is corrupt: {exc}") from None
    return [
        v.reshape(i.shape)
        for v, i in zip(torch.split(values, [i.numel() for i in indexes]), indexes, strict=True)
    ]
