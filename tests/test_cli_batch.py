"""nfc encode/decode on many files (neuralcodec/cli/batch.py): folders mirrored under OUTDIR,
resumable re-runs, one line per failed file, a summary, workers, and no original lost."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run_cli as run
from PIL import Image

import neuralcodec


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def tree(tmp_path, face) -> Path:
    """src/a.png, src/sub/b.png, a corrupt src/bad.png, and files a batch must leave alone."""
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    Image.fromarray(face).save(src / "a.png")
    Image.fromarray(face[:64, :96]).save(src / "sub" / "b.png")
    (src / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"broken" * 10)
    (src / "notes.txt").write_text("not an image")
    Image.fromarray(face).save(src / ".hidden.png")
    return src


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("nfc: error: ")]


def test_a_folder_is_mirrored_and_a_rerun_skips_what_is_done(capsys, tree, tmp_path):
    originals = hashes(tree)
    out = tmp_path / "out"
    code, stdout, err = run(capsys, "encode", str(tree), "-o", str(out), "-r", "-q", "2")
    assert code == 1 and stdout == ""
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == ["a.nfc", "sub/b.nfc"]
    (line,) = error_lines(err)
    assert line.startswith(f"nfc: error: {tree / 'bad.png'}: cannot decode image")
    assert "nfc: encoded 2 files" in err and "skipped 0 (already done), failed 1" in err
    assert (out / "a.nfc").read_bytes() == neuralcodec.compress(tree / "a.png", quality=2)
    written = hashes(out)

    code, _, err = run(capsys, "encode", str(tree), "-o", str(out), "-r", "-q", "2")
    assert code == 1 and len(error_lines(err)) == 1 and "bad.png" in error_lines(err)[0]
    assert "nfc: encoded 0 files, 0 -> 0 bytes; skipped 2 (already done), failed 1" in err
    assert hashes(out) == written and hashes(tree) == originals


def test_decode_many_files_into_a_folder(capsys, tree, tmp_path):
    nfc = tmp_path / "nfc"
    (tree / "bad.png").unlink()
    assert run(capsys, "encode", str(tree), "-o", str(nfc), "-r", "-q", "1", "--quiet") == (0, "", "")
    old = os.umask(0o022)
    try:
        code, _, err = run(
            capsys, "decode", str(nfc / "a.nfc"), str(nfc / "sub" / "b.nfc"), "-o", str(tmp_path / "png")
        )
    finally:
        os.umask(old)
    assert code == 0 and "nfc: decoded 2 files" in err and "failed 0" in err
    for name, size in (("a.png", (128, 128)), ("b.png", (96, 64))):
        path = tmp_path / "png" / name
        assert Image.open(path).size == size and stat.S_IMODE(path.stat().st_mode) == 0o644


def test_leftovers_of_a_killed_run_are_not_outputs(capsys, tree, tmp_path):
    """A hidden temporary file is not taken for a.nfc; a partial c.nfc is kept, not replaced."""
    out = tmp_path / "out"
    out.mkdir()
    (out / ".a.nfc.k3j9x2.tmp").write_bytes(b"NFC\x01 half written")
    (out / "bad.nfc").write_bytes(b"NFC\x01 half written")
    code, _, err = run(capsys, "encode", str(tree), "-o", str(out), "-r", "-q", "1")
    assert code == 1 and (out / "a.nfc").read_bytes() == neuralcodec.compress(tree / "a.png", quality=1)
    assert (
        f"nfc: error: {out / 'bad.nfc'} exists but is not a complete .nfc file; -f/--force replaces it" in err
    )
    assert (out / "bad.nfc").read_bytes() == b"NFC\x01 half written"


def test_force_codes_everything_again(capsys, tree, tmp_path):
    (tree / "bad.png").unlink()
    out = tmp_path / "out"
    assert run(capsys, "encode", str(tree), "-o", str(out), "-r", "-q", "1", "--quiet")[0] == 0
    small = (out / "a.nfc").stat().st_size
    code, _, err = run(capsys, "encode", str(tree), "-o", str(out), "-r", "-q", "5", "-f")
    assert code == 0 and "encoded 2 files" in err and "skipped 0" in err
    assert (out / "a.nfc").stat().st_size > small


def test_a_failed_write_leaves_no_temporary_file(capsys, tree, tmp_path):
    (tree / "bad.png").unlink()
    out = tmp_path / "out"
    (out / "a.nfc").mkdir(parents=True)  # a folder where the output should go
    code, _, err = run(capsys, "encode", str(tree), "-o", str(out), "-r", "-f")
    assert code == 1 and len(error_lines(err)) == 1 and str(out / "a.nfc") in error_lines(err)[0]
    assert sorted(p.name for p in out.iterdir()) == ["a.nfc", "sub"] and list((out / "a.nfc").iterdir()) == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["{src}"], "-o OUTDIR is needed"),
        (["{src}", "-o", "{out}"], "is a folder: add -r/--recursive"),
        (["{src}/a.png", "{src}/sub/b.png", "-o", "-"], "need an output folder"),
        (["{src}/a.png", "{src}/sub/b.png", "-o", "{src}/a.png"], "need an output folder"),
        (["{src}/a.png", "{src}/a.png", "-o", "{out}"], "would both be written to"),
        (["{src}/a.png", "-", "-o", "{out}"], "standard input"),
    ],
)
def test_batch_usage_errors_exit_2_before_any_work(capsys, tree, tmp_path, args, message):
    originals = hashes(tree)
    argv = [a.format(src=tree, out=tmp_path / "out") for a in args]
    code, _, err = run(capsys, "encode", *argv)
    assert code == 2 and err.startswith("nfc: error: ") and len(err.splitlines()) == 1 and message in err
    assert not (tmp_path / "out").exists() and hashes(tree) == originals


def test_a_progress_bar_on_a_terminal_and_quiet_silences_it(capsys, tree, tmp_path, monkeypatch):
    (tree / "bad.png").unlink()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, _, err = run(capsys, "encode", str(tree), "-o", str(tmp_path / "a"), "-r", "-q", "1")
    assert code == 0 and "2/2" in err and "encoding" in err
    code, out, err = run(capsys, "encode", str(tree), "-o", str(tmp_path / "b"), "-r", "-q", "1", "--quiet")
    assert (code, out, err) == (0, "", "")


@pytest.mark.slow
def test_two_workers_write_the_same_bytes_and_no_third_party_warning(tree, tmp_path):
    (tree / "bad.png").unlink()
    cmd = [sys.executable, "-m", "neuralcodec.cli.main", "encode", str(tree), "-r", "-q", "3"]
    one = subprocess.run([*cmd, "-o", str(tmp_path / "one")], capture_output=True, text=True, check=False)
    two = subprocess.run(
        [*cmd, "-o", str(tmp_path / "two"), "-j", "2"], capture_output=True, text=True, check=False
    )
    assert one.returncode == 0 and two.returncode == 0, two.stderr
    assert hashes(tmp_path / "one") == hashes(tmp_path / "two") and len(hashes(tmp_path / "two")) == 2
    assert two.stderr.splitlines() == [line for line in two.stderr.splitlines() if line.startswith("nfc: ")]
    assert "Warning" not in two.stderr and "encoded 2 files" in two.stderr


# --- --engine ray: the checks the CLI makes before it imports Ray (the Ray jobs themselves run in
# tests/test_distributed.py, on a local cluster) ------------------------------------------------


@pytest.fixture
def no_ray(monkeypatch):
    """An interpreter where ``import ray`` fails, as without the ray extra."""
    for name in ("ray", "ray.data"):
        monkeypatch.setitem(sys.modules, name, None)


@pytest.mark.parametrize(
    "args, message",
    [
        (["{src}", "-r"], "-o OUTDIR is needed"),
        (["{src}", "-o", "{out}"], "is a folder: add -r/--recursive"),
        (["{src}/a.png", "-o", "-"], "needs an output folder"),
        (["{src}/sub/b.png", "-o", "{src}/a.png"], "needs an output folder"),
        (["{src}/a.png", "-", "-o", "{out}"], "standard input"),
        (["{src}", "-r", "-o", "{out}", "--size", "900"], "--size does not run with --engine ray"),
        (["{src}", "-r", "-o", "{out}", "--roi", "0,0,8,8", "--roi-boost", "1"], "--roi-boost does not run"),
    ],
)
def test_ray_engine_usage_errors_exit_2_before_ray_is_imported(capsys, no_ray, tree, tmp_path, args, message):
    originals = hashes(tree)
    argv = [a.format(src=tree, out=tmp_path / "out") for a in args]
    code, _, err = run(capsys, "encode", *argv, "--engine", "ray")
    assert code == 2 and err.startswith("nfc: error: ") and len(err.splitlines()) == 1 and message in err
    assert not (tmp_path / "out").exists() and hashes(tree) == originals


def test_an_address_needs_the_ray_engine(capsys, tree, tmp_path):
    code, _, err = run(capsys, "encode", str(tree), "-r", "-o", str(tmp_path / "out"), "--address", "auto")
    assert code == 2 and err == "nfc: error: --address needs --engine ray\n"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["encode", "decode"])
def test_the_ray_engine_without_ray_names_the_extra(capsys, no_ray, tree, tmp_path, command):
    from neuralcodec import distributed
    from neuralcodec.errors import MissingDependency

    out = tmp_path / "out"
    code, _, err = run(capsys, command, str(tree), "-r", "-o", str(out), "--engine", "ray")
    assert code == 1 and len(err.splitlines()) == 1
    assert err.startswith("nfc: error: the Ray engine needs Ray Data")
    assert "pip install 'neuralcodec[ray]'" in err
    assert not out.exists()
    with pytest.raises(MissingDependency, match=r"neuralcodec\[ray\]"):
        distributed.decode_dataset(str(tree), str(out))


def test_help_shows_the_engines(capsys):
    for command in ("encode", "decode"):
        code, out, _ = run(capsys, command, "--help")
        assert code == 0 and "--engine {local,ray}" in out and "--address auto|HOST:PORT" in out
    code, out, _ = run(capsys, "--help")
    assert "--engine ray --address auto" in out


def test_the_ray_engine_gets_the_batch_flags_and_its_exit_status_is_nfcs(capsys, tree, tmp_path, monkeypatch):
    from neuralcodec import distributed

    calls = []

    def fake_run_cli(command, inputs, output, **options):
        calls.append((command, inputs, output, options))
        return 1

    monkeypatch.setattr(distributed, "run_cli", fake_run_cli)
    out = str(tmp_path / "out")
    argv = ["encode", str(tree), "-r", "-o", out, "-q", "3", "--roi", "8,8,32,32", "-f", "-j", "3"]
    code, _, _ = run(capsys, *argv, "--quiet", "--engine", "ray", "--address", "auto")
    assert code == 1
    code, _, _ = run(capsys, "decode", str(tree), "-r", "-o", out, "--decoder", "faithful", "--engine", "ray")
    assert code == 1
    (_, inputs, output, encode), (command, _, _, decode) = calls
    assert (calls[0][0], inputs, output) == ("encode", [str(tree)], out)
    assert encode == dict(
        quality=3,
        model="cvae",
        roi=(8, 8, 32, 32),
        decoder=None,
        force=True,
        recursive=True,
        jobs=3,
        address="auto",
        quiet=True,
    )
    assert command == "decode" and decode["decoder"] == "faithful" and decode["jobs"] is None
    assert (decode["address"], decode["force"], decode["quiet"]) == (None, False, False)
