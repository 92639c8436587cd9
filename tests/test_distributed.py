"""neuralcodec.distributed on a real local Ray cluster (2 CPUs): the same bytes as compress(),
corrupt inputs in the manifest, a worker killed mid-write, Parquet output, decoding, resuming.

Each job starts its workers (torch import, model load): the module runs a handful of jobs only.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ray = pytest.importorskip("ray", reason="Ray is an extra: pip install 'neuralcodec[ray]'")
pytest.importorskip("ray.data", reason="Ray Data is an extra: pip install 'neuralcodec[ray]'")
import pyarrow.fs
import pyarrow.parquet as pq

import neuralcodec
from neuralcodec import distributed

QUALITY = 2


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def faces(face) -> dict[str, bytes]:
    """PNG bytes of a few distinct faces (the example face, flipped, cropped, greyscale), by name."""
    img = Image.fromarray(face)
    variants = {
        "face.png": img,
        "nested/flipped.png": img.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "nested/deeper/crop.png": img.crop((16, 8, 112, 72)),
        "grey.png": img.convert("L"),
    }
    out = {}
    for name, variant in variants.items():
        buf = io.BytesIO()
        variant.save(buf, format="PNG")
        out[name] = buf.getvalue()
    return out


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)


def temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def test_encode_writes_the_bytes_of_compress_and_lists_corrupt_inputs(cluster, tmp_path, faces):
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_tree(src, faces)
    png = faces["face.png"]
    write_tree(src, {"junk.png": b"not an image", "nested/cut.png": png[: len(png) // 2]})
    (dst / "nested").mkdir(parents=True)
    stale = dst / "nested" / ".flipped.nfc.k2j4x9.tmp"  # left by a writer killed in an earlier run
    stale.write_bytes(b"partial")

    summary = distributed.encode_dataset(str(src), str(dst), quality=QUALITY, batch_size=2, concurrency=2)

    for name, data in faces.items():
        expected = neuralcodec.compress(data, quality=QUALITY)
        assert (dst / name).with_suffix(".nfc").read_bytes() == expected, name
    assert (summary.inputs, summary.written, summary.skipped) == (6, 4, 0)
    assert sorted(Path(e.source).name for e in summary.failed) == ["cut.png", "junk.png"]
    assert {e.error for e in summary.failed} == {"InvalidImage"}
    manifest = [json.loads(line) for line in (dst / distributed.MANIFEST_NAME).read_text().splitlines()]
    failed = sorted(str(src / name) for name in ("junk.png", "nested/cut.png"))
    assert sorted(m["source"] for m in manifest) == failed
    assert not (dst / "junk.nfc").exists() and not (dst / "nested" / "cut.nfc").exists()
    assert temporaries(dst) == []
    assert summary.threads_per_worker == 1  # one CPU per worker: one torch thread


class DiesOnFirstWrite(pyarrow.fs.FileSystemHandler):
    """The local filesystem, except that the first write of a temporary file (across all the
    worker processes: ``claim`` is created exclusively) writes half its bytes and kills the
    process, as the OOM killer or a lost node would."""

    def __init__(self, claim: str) -> None:
        self.claim = claim
        self.fs = pyarrow.fs.LocalFileSystem()

    def open_output_stream(self, path, metadata):
        if path.endswith(".tmp"):
            try:
                os.close(os.open(self.claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                pass
            else:
                return pyarrow.PythonFile(_DyingWriter(self.fs.open_output_stream(path)), mode="w")
        return self.fs.open_output_stream(path, metadata=metadata)

    def get_type_name(self):
        return "dies-on-first-write"

    def normalize_path(self, path):
        return self.fs.normalize_path(path)

    def get_file_info(self, paths):
        return self.fs.get_file_info(paths)

    def get_file_info_selector(self, selector):
        return self.fs.get_file_info(selector)

    def create_dir(self, path, recursive):
        self.fs.create_dir(path, recursive=recursive)

    def delete_dir(self, path):
        self.fs.delete_dir(path)

    def delete_dir_contents(self, path, missing_dir_ok=False):
        self.fs.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self):
        raise OSError("not in a test")

    def delete_file(self, path):
        self.fs.delete_file(path)

    def move(self, src, dest):
        self.fs.move(src, dest)

    def copy_file(self, src, dest):
        self.fs.copy_file(src, dest)

    def open_input_stream(self, path):
        return self.fs.open_input_stream(path)

    def open_input_file(self, path):
        return self.fs.open_input_file(path)

    def open_append_stream(self, path, metadata):
        return self.fs.open_append_stream(path, metadata=metadata)

    def equals(self, other):
        return isinstance(other, DiesOnFirstWrite) and other.claim == self.claim


class _DyingWriter:
    def __init__(self, stream) -> None:
        self.stream = stream
        self.closed = False

    def write(self, data) -> int:
        self.stream.write(bytes(data)[: len(data) // 2])
        self.stream.flush()
        os._exit(1)

    def close(self) -> None:
        self.stream.close()


def test_a_worker_killed_mid_write_leaves_no_partial_output_and_no_duplicate(cluster, tmp_path, faces):
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import tests/
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_tree(src, faces)
    done = dst / "face.nfc"  # done by an earlier, interrupted run: skipped, not rewritten
    done.parent.mkdir()
    done.write_bytes(neuralcodec.compress(faces["face.png"], quality=QUALITY))
    before = done.stat()
    claim = tmp_path / "killed"
    filesystem = pyarrow.fs.PyFileSystem(DiesOnFirstWrite(str(claim)))

    summary = distributed.encode_dataset(
        str(src), str(dst), quality=QUALITY, filesystem=filesystem, batch_size=1, concurrency=1
    )

    assert claim.exists(), "no worker died: the test tests nothing"
    assert (summary.written, summary.skipped, summary.failed) == (3, 1, ())
    assert (done.stat().st_ino, done.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    for name, data in faces.items():
        assert (dst / name).with_suffix(".nfc").read_bytes() == neuralcodec.compress(data, quality=QUALITY)
    outputs = sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file())
    expected = sorted([str(Path(n).with_suffix(".nfc")) for n in faces] + [distributed.MANIFEST_NAME])
    assert outputs == expected  # no temporaries, nothing twice


def test_parquet_rows_hold_the_bytes_of_compress_and_a_rerun_skips_them(cluster, tmp_path, faces):
    src, dst = tmp_path / "src", tmp_path / "dst"
    write_tree(src, faces)

    summary = distributed.encode_dataset(
        str(src), str(dst), quality=QUALITY, output="parquet", batch_size=3, concurrency=1
    )

    assert summary.written == len(faces) and summary.ok
    rows = pq.read_table(str(dst)).to_pylist()
    assert sorted(r["path"] for r in rows) == sorted(faces)
    for row in rows:
        img = Image.open(io.BytesIO(faces[row["path"]]))
        assert row["bytes"] == neuralcodec.compress(faces[row["path"]], quality=QUALITY)
        assert (row["width"], row["height"], row["quality"]) == (*img.size, QUALITY)
    again = distributed.encode_dataset(str(src), str(dst), quality=QUALITY, output="parquet")
    assert (again.written, again.skipped, again.workers) == (0, len(faces), 0)  # no Ray job at all


def test_decode_cli_writes_what_decompress_gives_and_exits_1_on_damage(cluster, tmp_path, faces, capsys):
    src, dst = tmp_path / "nfc", tmp_path / "png"
    files = {
        str(Path(n).with_suffix(".nfc")): neuralcodec.compress(d, quality=QUALITY) for n, d in faces.items()
    }
    good = files["face.nfc"]
    files["damaged.nfc"] = good[:-3] + bytes(b ^ 0xFF for b in good[-3:])
    write_tree(src, files)

    code = distributed.run_cli("decode", [str(src)], str(dst), recursive=True, jobs=1)

    assert code == 1
    err = capsys.readouterr().err
    assert "damaged.nfc" in err and "4 written, 0 skipped, 1 failed" in err
    for name, data in files.items():
        if name != "damaged.nfc":
            decoded = np.asarray(Image.open(dst / Path(name).with_suffix(".png")))
            assert np.array_equal(decoded, np.asarray(neuralcodec.decompress(data))), name
    (error,) = [json.loads(line) for line in (dst / distributed.MANIFEST_NAME).read_text().splitlines()]
    assert error["source"] == str(src / "damaged.nfc") and error["error"] == "ChecksumMismatch"


def test_nfc_encode_engine_ray_writes_what_compress_gives_resumes_and_lists_failures(
    cluster, tmp_path, faces, capsys
):
    from neuralcodec.cli.main import main

    src, dst = tmp_path / "src", tmp_path / "dst"
    write_tree(src, faces)
    argv = ["encode", str(src), "-r", "-o", str(dst), "-q", str(QUALITY), "--engine", "ray", "-j", "1"]

    assert main(argv) == 0
    assert "4 written, 0 skipped, 0 failed; " in capsys.readouterr().err
    for name, data in faces.items():
        assert (dst / name).with_suffix(".nfc").read_bytes() == neuralcodec.compress(data, quality=QUALITY)
    written = {p: p.stat().st_mtime_ns for p in dst.rglob("*.nfc")}

    write_tree(src, {"junk.png": b"not an image"})
    assert main(argv) == 1  # the same command again: only the new input is coded, and it fails
    err = capsys.readouterr().err
    assert f"nfc: error: {src / 'junk.png'}: " in err
    assert "0 written, 4 skipped, 1 failed (listed in " in err
    assert {p: p.stat().st_mtime_ns for p in dst.rglob("*.nfc")} == written
    (error,) = [json.loads(line) for line in (dst / distributed.MANIFEST_NAME).read_text().splitlines()]
    assert error["source"] == str(src / "junk.png") and error["error"] == "InvalidImage"


def test_options_that_fit_no_input_are_refused_before_any_job(tmp_path, faces):
    write_tree(tmp_path / "src", faces)
    with pytest.raises(neuralcodec.InvalidOption, match="quality"):
        distributed.encode_dataset(str(tmp_path / "src"), str(tmp_path / "dst"), quality=99)
    with pytest.raises(neuralcodec.InvalidOption, match="no such file"):
        distributed.encode_dataset(str(tmp_path / "missing"), str(tmp_path / "dst"))
    with pytest.raises(neuralcodec.InvalidOption, match="output"):
        distributed.encode_dataset(str(tmp_path / "src"), str(tmp_path / "dst"), output="zip")


def test_the_local_path_never_imports_ray(face_png, tmp_path):
    import subprocess

    code = (
        "import sys, neuralcodec, neuralcodec.distributed, neuralcodec.cli.main;"
        f"neuralcodec.compress({str(face_png)!r}, quality=1);"
        f"assert neuralcodec.cli.main.main(['encode', {str(face_png.parent)!r}, '-r', '-q', '1',"
        f" '-o', {str(tmp_path / 'out')!r}, '--quiet']) == 0;"
        "print('ray' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
