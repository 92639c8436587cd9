"""Faces/s of a folder job: one process looping over compress(), and Ray with 1 and 2 workers.

    python -m pytest bench/bench_distributed.py --benchmark-columns=mean,rounds \
        --benchmark-group-by=group --benchmark-sort=name

The first LIMIT faces of ../shared/data/faces/test (sorted by name; NFC_BENCH_FACES=500 for all),
each read from disk, encoded at the default quality and written atomically to a fresh folder.
A job is one round (jobs are long); the Ray rows include what every job pays: starting its
workers (torch import, model load) and moving batches through Ray, but not starting the
cluster, which a cluster has before its jobs. Compare the rows of the one run as ratios; the
overhead of Ray per face is (Ray 1 worker - loop) / LIMIT.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

import neuralcodec
from neuralcodec import distributed
from neuralcodec.files import write_atomic

ray = pytest.importorskip("ray", reason="Ray is an extra: pip install 'neuralcodec[ray]'")
pytest.importorskip("ray.data", reason="Ray Data is an extra: pip install 'neuralcodec[ray]'")

FACES = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "faces" / "test"
LIMIT = int(os.environ.get("NFC_BENCH_FACES", "24"))


@pytest.fixture(scope="module")
def faces(tmp_path_factory) -> Path:
    """A folder with the first LIMIT test faces (links, so the job lists exactly those)."""
    files = sorted(FACES.glob("*.png"))[:LIMIT] if FACES.is_dir() else []
    if len(files) < LIMIT:
        pytest.skip(f"needs {LIMIT} faces in {FACES}")
    folder = tmp_path_factory.mktemp("faces")
    for f in files:
        (folder / f.name).symlink_to(f)
    return folder


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


def fresh_output():
    """A new empty output folder for each round (a job skips faces whose output exists)."""
    out = Path(tempfile.mkdtemp(prefix="nfc-bench-"))
    return (out,), {}


def loop(src: Path, out: Path) -> int:
    for path in sorted(src.glob("*.png")):
        write_atomic(out / f"{path.stem}.nfc", neuralcodec.compress(path.read_bytes()))
    shutil.rmtree(out)
    return LIMIT


def on_ray(src: Path, workers: int):
    def job(out: Path) -> int:
        summary = distributed.encode_dataset(str(src), str(out), concurrency=workers, num_cpus=1)
        shutil.rmtree(out)
        assert summary.ok and summary.workers == workers
        return summary.written

    return job


@pytest.mark.benchmark(group="encode-folder")
def test_loop_one_process(benchmark, faces):
    neuralcodec.compress(next(faces.glob("*.png")).read_bytes())  # the model loaded, as in a worker
    assert benchmark.pedantic(lambda out: loop(faces, out), setup=fresh_output, rounds=1) == LIMIT


@pytest.mark.benchmark(group="encode-folder")
@pytest.mark.parametrize("workers", [1, 2])
def test_ray(benchmark, faces, cluster, workers):
    assert benchmark.pedantic(on_ray(faces, workers), setup=fresh_output, rounds=1) == LIMIT
