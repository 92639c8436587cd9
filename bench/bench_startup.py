"""Whole-process start-up cost of the CLI next to ``python -c "import torch"``, same run.

    python -m pytest bench/bench_startup.py --benchmark-columns=median,min,max,rounds \
        --benchmark-group-by=group --benchmark-sort=name

Each round is a fresh interpreter running one command on the bundled example face (the
package of this checkout), five rounds per command; compare the medians of one run as
ratios to ``import torch``, the floor for any command that runs a model. Start-up is
dominated by imports: ``python -X importtime -m neuralcodec.cli.main decode FILE -o OUT``
names them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FACE = ROOT / "docs" / "example" / "face.png"
ROUNDS = 5


@pytest.fixture(scope="module")
def face_nfc(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("startup") / "face.nfc"
    _run(["-m", "neuralcodec.cli.main", "encode", str(FACE), "-o", str(out), "-q", "6"])
    return out


def _run(args: list[str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, *args], check=True, env=env, cwd=ROOT, capture_output=True)


def _bench(benchmark, args: list[str]) -> None:
    benchmark.pedantic(_run, args=(args,), rounds=ROUNDS, iterations=1, warmup_rounds=1)


@pytest.mark.benchmark(group="startup")
def test_import_torch(benchmark):
    _bench(benchmark, ["-c", "import torch"])


@pytest.mark.benchmark(group="startup")
def test_nfc_info(benchmark, face_nfc):
    _bench(benchmark, ["-m", "neuralcodec.cli.main", "info", str(face_nfc)])


@pytest.mark.benchmark(group="startup")
def test_nfc_decode(benchmark, face_nfc, tmp_path):
    out = tmp_path / "out.png"  # every round after the first replaces it: --force
    _bench(benchmark, ["-m", "neuralcodec.cli.main", "decode", str(face_nfc), "-o", str(out), "--force"])


@pytest.mark.benchmark(group="startup")
def test_nfc_encode(benchmark, tmp_path):
    out = tmp_path / "out.nfc"
    _bench(benchmark, ["-m", "neuralcodec.cli.main", "encode", str(FACE), "-o", str(out), "--force"])
