"""Throughput of the rANS coder in neuralcodec._C against compressai.ans, same symbols and tables.

    nice -n 19 python -m pytest bench/bench_rans.py --benchmark-columns=min,median,mean,rounds

One 192x32x48 latent (a 512x768 image at stride 16) coded with the CDF tables of CompressAI's
GaussianConditional (default scale table). Each benchmark stores Msymbols/s (from the mean
and from the best round) in its extra_info.
CompressAI gets its arguments as ready-made lists, so only its own call is timed.
"""

from dataclasses import dataclass

import compressai
import numpy as np
import pytest
import torch
from compressai.ans import RansDecoder, RansEncoder
from compressai.entropy_models import GaussianConditional
from compressai.models.base import get_scale_table

from neuralcodec import _C

LATENT_SHAPE = (1, 192, 32, 48)
SCALE_RANGE = (0.11, 20.0)


@dataclass(frozen=True)
class CodingProblem:
    symbols: np.ndarray  # int32[N]
    indexes: np.ndarray  # int32[N]
    tables: tuple  # cdfs int32[K, L], lengths int32[K], offsets int32[K]
    data: bytes  # the encoded stream

    @property
    def count(self) -> int:
        return self.symbols.size


@pytest.fixture(scope="module")
def problem() -> CodingProblem:
    generator = torch.Generator().manual_seed(0)
    model = GaussianConditional(None)
    model.update_scale_table(get_scale_table())
    log_low, log_high = np.log(SCALE_RANGE)
    scales = torch.exp(torch.empty(LATENT_SHAPE).uniform_(log_low, log_high, generator=generator))
    latent = torch.randn(LATENT_SHAPE, generator=generator) * scales
    symbols = model.quantize(latent, "symbols").numpy().ravel().astype(np.int32)
    indexes = model.build_indexes(scales).numpy().ravel().astype(np.int32)
    tables = tuple(t.numpy() for t in (model._quantized_cdf, model._cdf_length, model._offset))
    return CodingProblem(
        symbols, indexes, tables, _C.encode_with_indexes(symbols, indexes, *tables)
    )


def _timed(benchmark, count, function, *args):
    benchmark.extra_info["compressai"] = compressai.__version__
    result = benchmark(function, *args)
    if benchmark.stats:  # None under --benchmark-disable
        stats = benchmark.stats.stats
        # The best round shows the coder's speed on a busy machine; the mean includes waiting.
        benchmark.extra_info["Msymbols/s mean"] = round(count / stats.mean / 1e6, 2)
        benchmark.extra_info["Msymbols/s best"] = round(count / stats.min / 1e6, 2)
    return result


def test_encode_neuralcodec(benchmark, problem):
    data = _timed(
        benchmark,
        problem.count,
        _C.encode_with_indexes,
        problem.symbols,
        problem.indexes,
        *problem.tables,
    )
    assert data == problem.data


def test_encode_compressai(benchmark, problem):
    lists = [a.tolist() for a in (problem.symbols, problem.indexes, *problem.tables)]
    data = _timed(benchmark, problem.count, RansEncoder().encode_with_indexes, *lists)
    assert data == problem.data


def test_decode_neuralcodec(benchmark, problem):
    decoded = _timed(
        benchmark,
        problem.count,
        _C.decode_with_indexes,
        problem.data,
        problem.indexes,
        *problem.tables,
    )
    np.testing.assert_array_equal(decoded, problem.symbols)


def test_decode_compressai(benchmark, problem):
    lists = [a.tolist() for a in (problem.indexes, *problem.tables)]
    decoded = _timed(
        benchmark, problem.count, RansDecoder().decode_with_indexes, problem.data, *lists
    )
    assert decoded == problem.symbols.tolist()
