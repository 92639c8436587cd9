"""Throughput of the rANS coder in neuralcodec._C against compressai.ans, same symbols and tables.

    nice -n 19 python -m pytest bench/bench_rans.py --benchmark-group-by=group \\
        --benchmark-columns=min,median,mean,rounds

Two problems, both coded with the CDF tables of CompressAI's GaussianConditional (default scale
table) and Gaussian latents whose scales span the table:

* ``kodak``: one 192x32x48 latent (a 512x768 image at stride 16), 294,912 symbols, 5 lanes;
* ``faces``: a batch of 64 latents of 128x8x8 (128x128 faces at stride 16), one lane each.

Each is encoded and decoded by CompressAI's ``ans`` (one call per latent, its arguments as
ready-made lists so only its own call is timed) and by ours with 1 and 2 threads (one batch
call). Each benchmark stores Msymbols/s (from the mean and from the best round) in its
extra_info; at the end a table of speed-ups over CompressAI (best rounds, which show the coder's
speed on a busy machine) is printed and the lane overhead in bytes is checked (< 0.5 %).
"""

import os
import platform
import subprocess
from dataclasses import dataclass

import compressai
import numpy as np
import pytest
import torch
from compressai.ans import RansDecoder, RansEncoder
from compressai.entropy_models import GaussianConditional
from compressai.models.base import get_scale_table

from neuralcodec import _C

PROBLEMS = {"kodak": [(192, 32, 48)], "faces": [(128, 8, 8)] * 64}
SCALE_RANGE = (0.11, 20.0)
THREADS = (1, 2)
MAX_LANE_OVERHEAD = 0.005


@dataclass(frozen=True)
class CodingProblem:
    symbols: list  # int32[n_i] per latent
    indexes: list  # int32[n_i] per latent
    tables: tuple  # cdfs int32[K, L], lengths int32[K], offsets int32[K]
    streams: list  # our multi-lane stream per latent
    plain_streams: list  # CompressAI's stream per latent

    @property
    def count(self) -> int:
        return sum(s.size for s in self.symbols)


@pytest.fixture(scope="module")
def gaussian() -> GaussianConditional:
    model = GaussianConditional(None)
    model.update_scale_table(get_scale_table())
    return model


def _latent(model, shape, generator):
    log_low, log_high = np.log(SCALE_RANGE)
    scales = torch.exp(torch.empty(shape).uniform_(log_low, log_high, generator=generator))
    latent = torch.randn(shape, generator=generator) * scales
    symbols = model.quantize(latent, "symbols").numpy().ravel().astype(np.int32)
    return symbols, model.build_indexes(scales).numpy().ravel().astype(np.int32)


@pytest.fixture(scope="module", params=sorted(PROBLEMS))
def problem(request, gaussian) -> CodingProblem:
    generator = torch.Generator().manual_seed(0)
    latents = [_latent(gaussian, shape, generator) for shape in PROBLEMS[request.param]]
    symbols, indexes = [s for s, _ in latents], [i for _, i in latents]
    tables = tuple(t.numpy() for t in (gaussian._quantized_cdf, gaussian._cdf_length, gaussian._offset))
    streams = _C.encode_lanes_batch(symbols, indexes, *tables)
    plain = [_C.encode_with_indexes(s, i, *tables) for s, i in zip(symbols, indexes, strict=True)]
    return CodingProblem(symbols, indexes, tables, streams, plain)


_RESULTS: dict[tuple[str, str, str], float] = {}  # (problem, operation, coder) -> best seconds


def _git_sha() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "unknown"


def _timed(benchmark, problem_name, operation, coder, count, function, *args):
    benchmark.group = f"rans {problem_name} {operation}"
    benchmark.extra_info.update(
        compressai=compressai.__version__,
        git=_git_sha(),
        cpu=platform.processor() or platform.machine(),
        cores=os.cpu_count(),
        symbols=count,
    )
    result = benchmark(function, *args)
    if benchmark.stats:  # None under --benchmark-disable
        stats = benchmark.stats.stats
        benchmark.extra_info["Msymbols/s mean"] = round(count / stats.mean / 1e6, 2)
        benchmark.extra_info["Msymbols/s best"] = round(count / stats.min / 1e6, 2)
        _RESULTS[(problem_name, operation, coder)] = stats.min
    return result


def _problem_name(request) -> str:
    return request.node.callspec.params["problem"]


def _encode_compressai(lists):
    encoder = RansEncoder()
    return [encoder.encode_with_indexes(*args) for args in lists]


def _decode_compressai(streams, lists):
    decoder = RansDecoder()
    return [decoder.decode_with_indexes(data, *args) for data, args in zip(streams, lists, strict=True)]


def test_encode_compressai(benchmark, problem, request):
    lists = [
        [a.tolist() for a in (s, i, *problem.tables)]
        for s, i in zip(problem.symbols, problem.indexes, strict=True)
    ]
    streams = _timed(
        benchmark, _problem_name(request), "encode", "compressai", problem.count, _encode_compressai, lists
    )
    assert streams == problem.plain_streams


@pytest.mark.parametrize("threads", THREADS)
def test_encode_neuralcodec(benchmark, problem, request, threads):
    streams = _timed(
        benchmark,
        _problem_name(request),
        "encode",
        f"ours {threads}T",
        problem.count,
        _C.encode_lanes_batch,
        problem.symbols,
        problem.indexes,
        *problem.tables,
        threads,
    )
    assert streams == problem.streams


def test_decode_compressai(benchmark, problem, request):
    lists = [[a.tolist() for a in (i, *problem.tables)] for i in problem.indexes]
    decoded = _timed(
        benchmark,
        _problem_name(request),
        "decode",
        "compressai",
        problem.count,
        _decode_compressai,
        problem.plain_streams,
        lists,
    )
    assert decoded == [s.tolist() for s in problem.symbols]


@pytest.mark.parametrize("threads", THREADS)
def test_decode_neuralcodec(benchmark, problem, request, threads):
    decoded = _timed(
        benchmark,
        _problem_name(request),
        "decode",
        f"ours {threads}T",
        problem.count,
        _C.decode_lanes_batch,
        problem.streams,
        problem.indexes,
        *problem.tables,
        threads,
    )
    for got, expected in zip(decoded, problem.symbols, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_lanes_are_compact(problem):
    """Our multi-lane streams are within 0.5 % of CompressAI's single streams, in bytes."""
    ours = sum(len(s) for s in problem.streams)
    theirs = sum(len(s) for s in problem.plain_streams)
    assert theirs <= ours <= theirs * (1 + MAX_LANE_OVERHEAD)


@pytest.fixture(scope="module", autouse=True)
def speedup_report(request):
    """After the module: Msymbols/s and speed-up over CompressAI of every coder, best rounds."""
    yield
    if not _RESULTS:
        return
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    lines = ["", "rANS speed-ups over compressai.ans (best rounds):"]
    for problem_name in sorted(PROBLEMS):
        count = sum(int(np.prod(shape)) for shape in PROBLEMS[problem_name])
        for operation in ("encode", "decode"):
            base = _RESULTS.get((problem_name, operation, "compressai"))
            for coder in ["compressai"] + [f"ours {t}T" for t in THREADS]:
                seconds = _RESULTS.get((problem_name, operation, coder))
                if seconds is None:
                    continue
                ratio = f"{base / seconds:5.2f}x" if base else "   n/a"
                lines.append(
                    f"  {problem_name:6} {operation}  {coder:11} {count / seconds / 1e6:8.2f} "
                    f"Msymbols/s  {ratio}"
                )
    for line in lines:
        if reporter is not None:
            reporter.write_line(line)
        else:
            print(line)
