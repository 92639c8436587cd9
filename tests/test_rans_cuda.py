"""The CUDA lane decoder (csrc/rans/rans_cuda.cu) against the CPU coder: bit-identical output.

Needs a GPU and an extension built with CUDA kernels (WITH_CUDA=1); skipped otherwise.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
_C = pytest.importorskip("neuralcodec._C", reason="native extension not built")

from neuralcodec.entropy import CdfTables, decode_symbols_batch, decode_symbols_batch_cuda
from neuralcodec.errors import CorruptBitstream

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
    pytest.mark.skipif(not getattr(_C, "WITH_CUDA", False), reason="extension built without CUDA"),
]

PER_LANE = 65536


@pytest.fixture(scope="module")
def gaussian_tables():
    from compressai.entropy_models import GaussianConditional
    from compressai.models.base import get_scale_table

    model = GaussianConditional(None)
    model.update_scale_table(get_scale_table())
    cpu = CdfTables(
        *(t.numpy().astype(np.int32) for t in (model._quantized_cdf, model._cdf_length, model._offset))
    )
    return model, cpu, tuple(torch.from_numpy(t).cuda() for t in (cpu.cdfs, cpu.lengths, cpu.offsets))


def _messages(model, rng, sizes):
    symbols, indexes = [], []
    for n in sizes:
        scales = np.exp(rng.uniform(np.log(0.11), np.log(20.0), n)).astype(np.float32)
        indexes.append(model.build_indexes(torch.from_numpy(scales)).numpy().astype(np.int32))
        values = np.round(rng.normal(0.0, scales)).astype(np.int32)
        far = rng.random(n) < 0.01
        values[far] = rng.integers(-(2**31), 2**31 - 1, far.sum())
        symbols.append(values)
    return symbols, indexes


SIZES = (8 * 8 * 128,) * 16 + (192 * 32 * 48, 0, 1, 40 * PER_LANE)


def test_cpu_encoded_streams_decode_identically_on_gpu(gaussian_tables):
    model, cpu, gpu = gaussian_tables
    symbols, indexes = _messages(model, np.random.default_rng(0), SIZES)
    streams = _C.encode_lanes_batch(symbols, indexes, cpu.cdfs, cpu.lengths, cpu.offsets)
    on_cpu = decode_symbols_batch(streams, indexes, cpu)
    on_gpu = decode_symbols_batch_cuda(streams, [torch.from_numpy(i).cuda() for i in indexes], gpu)
    for expected, got_cpu, got_gpu in zip(symbols, on_cpu, on_gpu, strict=True):
        assert got_gpu.is_cuda and got_gpu.dtype == torch.int32
        np.testing.assert_array_equal(got_cpu, expected)
        np.testing.assert_array_equal(got_gpu.cpu().numpy(), expected)


def test_gpu_rejects_what_the_cpu_rejects(gaussian_tables):
    """Every truncation and bit flip of a 3-lane stream: the GPU fails exactly when the CPU does,
    and otherwise decodes the same symbols."""
    model, cpu, gpu = gaussian_tables
    (symbols,), (indexes,) = _messages(model, np.random.default_rng(1), [2 * PER_LANE + 5])
    data = _C.encode_lanes(symbols, indexes, cpu.cdfs, cpu.lengths, cpu.offsets)
    gpu_indexes = [torch.from_numpy(indexes).cuda()]
    rng = np.random.default_rng(2)
    candidates = [data[:cut] for cut in rng.choice(len(data), 64, replace=False)]
    for bit in rng.choice(8 * len(data), 256, replace=False):
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        candidates.append(bytes(flipped))
    for stream in candidates:
        try:
            expected = decode_symbols_batch([stream], [indexes], cpu)[0]
        except CorruptBitstream:
            with pytest.raises(CorruptBitstream):
                decode_symbols_batch_cuda([stream], gpu_indexes, gpu)
        else:
            got = decode_symbols_batch_cuda([stream], gpu_indexes, gpu)[0]
            np.testing.assert_array_equal(got.cpu().numpy(), expected)


def test_gpu_rejects_bad_indexes_and_tables(gaussian_tables):
    model, cpu, gpu = gaussian_tables
    (symbols,), (indexes,) = _messages(model, np.random.default_rng(3), [1000])
    data = _C.encode_lanes(symbols, indexes, cpu.cdfs, cpu.lengths, cpu.offsets)
    bad = torch.from_numpy(indexes).cuda()
    bad[10] = len(cpu.lengths)
    with pytest.raises(CorruptBitstream, match="outside the CDF tables"):
        decode_symbols_batch_cuda([data], [bad], gpu)
    broken = gpu[0].clone()
    broken[int(indexes[0]), 1] = 0  # no longer strictly increasing
    with pytest.raises(CorruptBitstream, match="invalid CDF table"):
        decode_symbols_batch_cuda([data], [torch.from_numpy(indexes).cuda()], (broken, gpu[1], gpu[2]))
