"""Crash-safe batch writes (issue 11 #4, issue 13 #5): ``nfc encode DIR -o OUT`` killed with
SIGKILL at random moments leaves every output absent or complete, no temporary that the next
run does not remove, and a re-run that finishes the job; two writers of one output never fail
each other's file.

Each run is a fresh ``python -m neuralcodec.cli.main`` process, as ``nfc`` is. The kill moments
are drawn from [0, the duration of an uninterrupted run], so they fall in the start-up, in the
coding and in the writes. Half the runs pass --force, which rewrites every output through a
named temporary (``.NAME.PID_*.tmp``) and so is where a kill leaves temporaries behind.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import neuralcodec
from neuralcodec.container import unpack

NFC = [sys.executable, "-m", "neuralcodec.cli.main"]
TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>[0-9]+)_[a-z0-9_]+\.tmp$")
FILES = 24


@pytest.fixture(scope="module")
def batch(face, tmp_path_factory) -> tuple[Path, dict[str, bytes], float]:
    """(source folder of FILES crops of the example face, the reference output of each, the
    seconds an uninterrupted ``nfc encode`` of the folder takes)."""
    root = tmp_path_factory.mktemp("crash")
    src = root / "src"
    src.mkdir()
    rng = np.random.default_rng(0)
    for k in range(FILES):
        y, x = rng.integers(0, 128 - 48, 2)
        Image.fromarray(face[y : y + 48, x : x + 48]).save(src / f"face{k:02d}.png")
    reference = root / "reference"
    start = time.monotonic()
    subprocess.run([*NFC, "encode", str(src), "-r", "-o", str(reference), "--quiet"], check=True)
    seconds = time.monotonic() - start
    outputs = {p.name: p.read_bytes() for p in reference.iterdir()}
    assert len(outputs) == FILES
    for data in outputs.values():  # the reference itself decodes
        assert neuralcodec.decompress(data).size == (48, 48)
    return src, outputs, seconds


def check_folder(out: Path, reference: dict[str, bytes], dead: set[int]) -> set[str]:
    """Every visible file of ``out`` is a complete output, byte for byte the reference's; every
    hidden one is a temporary of a killed writer. Returns the names of the complete outputs."""
    complete = set()
    for path in out.iterdir():
        match = TEMPORARY.match(path.name)
        if path.name.startswith("."):
            assert match and int(match["pid"]) in dead, f"{path.name}: not a temporary of a killed run"
            assert match["name"] in reference
            continue
        assert path.read_bytes() == reference[path.name], f"{path.name} is not complete"
        complete.add(path.name)
    return complete


def kill_at_random_moments(batch, out: Path, kills: int, seed: int) -> None:
    src, reference, seconds = batch
    rng = random.Random(seed)
    dead: set[int] = set()
    killed = 0
    for k in range(kills):
        complete = check_folder(out, reference, dead) if out.exists() else set()
        for name in rng.sample(sorted(complete), max(0, len(complete) - FILES // 2)):
            (out / name).unlink()  # keep half the job to do, so that the kill meets writes
        force = ["--force"] if k % 2 else []
        proc = subprocess.Popen([*NFC, "encode", str(src), "-r", "-o", str(out), "--quiet", *force])
        try:
            proc.wait(timeout=rng.uniform(0, seconds))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            dead.add(proc.pid)
            killed += 1
        else:
            assert proc.returncode == 0
        check_folder(out, reference, dead)
    assert killed >= kills // 2, f"only {killed} of {kills} runs were still running when killed"
    done = subprocess.run([*NFC, "encode", str(src), "-r", "-o", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(reference), "temporaries left, or outputs missing"
    assert check_folder(out, reference, set()) == set(reference)
    for name in reference:
        unpack((out / name).read_bytes())


def test_three_kills_leave_only_complete_outputs_and_the_rerun_finishes(batch, tmp_path):
    kill_at_random_moments(batch, tmp_path / "out", kills=3, seed=1)


@pytest.mark.slow
def test_twenty_kills_leave_only_complete_outputs_and_the_rerun_finishes(batch, tmp_path):
    kill_at_random_moments(batch, tmp_path / "out", kills=20, seed=2)


def test_the_next_run_removes_stale_temporaries_and_keeps_a_live_writers(batch, tmp_path):
    src, reference, _ = batch
    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    stale = out / f".face00.nfc.{int(dead.stdout)}_k3j9x2ab.tmp"
    live = out / f".face01.nfc.{1}_k3j9x2ab.tmp"  # PID 1 is always running
    other = out / ".notes.txt.swp"
    for path in (stale, live, other):
        path.write_bytes(b"partial")
    subprocess.run(
        [*NFC, "encode", str(src / "face00.png"), str(src / "face01.png"), "-o", str(out)], check=True
    )
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [live.name, other.name, "face00.nfc", "face01.nfc"]
    )


def test_a_lone_encode_removes_the_stale_temporaries_of_its_output(batch, tmp_path):
    src, reference, _ = batch
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    stale = tmp_path / f".x.nfc.{int(dead.stdout)}_abcdefgh.tmp"
    stale.write_bytes(b"partial")
    subprocess.run([*NFC, "encode", str(src / "face00.png"), "-o", str(tmp_path / "x.nfc")], check=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.nfc"]
    assert (tmp_path / "x.nfc").read_bytes() == reference["face00.nfc"]


def test_two_writers_of_one_file_one_wins_the_other_exits_1(batch, tmp_path):
    """Both start before either has written: one writes the file, the other exits 1 with one
    line ("already exists"), and the file is the whole output."""
    src, reference, _ = batch
    out = tmp_path / "x.nfc"
    procs = [
        subprocess.Popen(
            [*NFC, "encode", str(src / "face03.png"), "-o", str(out)], stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    results = sorted((p.wait(timeout=600), p.stderr.read()) for p in procs)
    assert [code for code, _ in results] == [0, 1]
    loser = results[1][1].strip().splitlines()
    assert loser == [f"nfc: error: {out} already exists; -f/--force replaces it"]
    assert out.read_bytes() == reference["face03.nfc"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.nfc"]


def test_two_batch_writers_of_one_folder_both_exit_0_and_write_each_file_once(batch, tmp_path):
    src, reference, _ = batch
    out = tmp_path / "out"
    procs = [
        subprocess.Popen([*NFC, "encode", str(src), "-r", "-o", str(out)], stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    errs = [p.stderr.read() for p in procs]
    assert [p.wait(timeout=600) for p in procs] == [0, 0], errs
    encoded = [int(re.search(r"nfc: encoded (\d+) files", err)[1]) for err in errs]
    assert sum(encoded) == FILES, errs  # each file written by exactly one of them
    assert check_folder(out, reference, set()) == set(reference)
    assert len(list(out.iterdir())) == FILES
