"""neuralcodec.entropy.coder: the numpy-facing wrapper of the rANS coder, batches included."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")  # loads libc10, which neuralcodec._C links against

from neuralcodec.entropy import (
    CdfTables,
    decode_symbols,
    decode_symbols_batch,
    encode_symbols,
    encode_symbols_batch,
)
from neuralcodec.errors import CorruptBitstream, ExtensionNotBuilt

pytest.importorskip("neuralcodec._C", reason="native extension not built")

TABLES = CdfTables(
    cdfs=np.array([[0, 20000, 50000, 65536, 0], [0, 1000, 2000, 3000, 65536]], np.int32),
    lengths=np.array([4, 5], np.int32),
    offsets=np.array([-1, 0], np.int32),
)


def _latents(rng, shapes):
    symbols = [rng.integers(-3, 5, shape).astype(np.int32) for shape in shapes]
    indexes = [rng.integers(0, 2, shape).astype(np.int32) for shape in shapes]
    return symbols, indexes


def test_batch_of_faces_round_trips_with_shapes():
    """64 face latents (8x8x128 each) and one Kodak-sized latent in one call each way."""
    symbols, indexes = _latents(np.random.default_rng(0), [(128, 8, 8)] * 64 + [(192, 32, 48)])
    streams = encode_symbols_batch(symbols, indexes, TABLES, threads=2)
    assert streams == [encode_symbols(s, i, TABLES, threads=1) for s, i in zip(symbols, indexes, strict=True)]
    for threads in (0, 1, 2):
        decoded = decode_symbols_batch(streams, indexes, TABLES, threads=threads)
        for got, expected in zip(decoded, symbols, strict=True):
            assert got.shape == expected.shape and got.dtype == np.int32
            np.testing.assert_array_equal(got, expected)


def test_single_round_trip_keeps_shape():
    (symbols,), (indexes,) = _latents(np.random.default_rng(1), [(3, 4, 5)])
    data = encode_symbols(symbols, indexes, TABLES)
    np.testing.assert_array_equal(decode_symbols(data, indexes, TABLES), symbols)


def test_corrupt_streams_raise_corrupt_bitstream():
    symbols, indexes = _latents(np.random.default_rng(2), [(128, 8, 8), (4, 300, 300)])
    streams = encode_symbols_batch(symbols, indexes, TABLES)
    with pytest.raises(CorruptBitstream, match="stream 1, lane"):
        decode_symbols_batch([streams[0], streams[1][:-3]], indexes, TABLES)
    with pytest.raises(CorruptBitstream):
        decode_symbols(streams[0][:5], indexes[0], TABLES)
    with pytest.raises(CorruptBitstream):
        decode_symbols(streams[0], np.full_like(indexes[0], 7), TABLES)


def test_missing_extension_names_the_build_command(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "neuralcodec._C", None)  # makes `from neuralcodec import _C` fail
    import neuralcodec

    monkeypatch.delattr(neuralcodec, "_C", raising=False)
    with pytest.raises(ExtensionNotBuilt, match="pip install --no-build-isolation -e ."):
        encode_symbols(np.zeros(3, np.int32), np.zeros(3, np.int32), TABLES)
