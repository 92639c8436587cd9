"""The nfc command on one file: exit codes, one-line errors naming the file and the flag,
stdin/stdout, atomic outputs that never replace a file without -f (face_png's fixture checks
after every test that the original is unchanged). Many files: test_cli_batch.py."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import needs_extra
from helpers import run_cli as run
from PIL import Image

from neuralcodec.cli.main import main


def one_line_error(err: str) -> bool:
    lines = err.strip().splitlines()
    return len(lines) == 1 and lines[0].startswith("nfc: error: ")


def test_encode_info_decode(capsys, face_png, tmp_path):
    nfc = tmp_path / "face.nfc"
    code, _, err = run(capsys, "encode", str(face_png), "-o", str(nfc), "--quality", "3")
    assert code == 0 and "bpp" in err
    code, out, _ = run(capsys, "info", str(nfc))
    assert code == 0 and "face-hyperprior-v2" in out and "128x128" in out
    code, out, _ = run(capsys, "info", str(nfc), "--json")
    info = json.loads(out)
    assert info["quality"] == 3 and info["file_bytes"] == nfc.stat().st_size
    assert info["header_bytes"] <= 16
    out_png = tmp_path / "decoded.png"
    assert run(capsys, "decode", str(nfc), "-o", str(out_png))[0] == 0
    assert Image.open(out_png).size == (128, 128)


def test_decoding_next_to_the_original_never_replaces_it(capsys, face_png):
    """`nfc encode face.png -q 1 && nfc decode face.nfc`: the default output is face.png."""
    assert run(capsys, "encode", str(face_png), "-q", "1", "--quiet") == (0, "", "")
    nfc = face_png.with_suffix(".nfc")
    assert nfc.exists()
    code, out, err = run(capsys, "decode", str(nfc))
    assert code == 1 and one_line_error(err) and out == ""
    assert f"{face_png} already exists; -f/--force replaces it" in err
    code, _, err = run(capsys, "encode", str(face_png), "-q", "2")  # the .nfc is kept too
    assert code == 1 and f"{nfc} already exists" in err
    assert sorted(p.name for p in face_png.parent.iterdir()) == ["face.nfc", "face.png"]


def test_force_replaces_an_output(capsys, face_png, tmp_path):
    out = tmp_path / "copy.png"
    out.write_bytes(b"an older file")
    nfc = tmp_path / "face.nfc"
    assert run(capsys, "encode", str(face_png), "-o", str(nfc), "-q", "1")[0] == 0
    assert run(capsys, "decode", str(nfc), "-o", str(out))[0] == 1 and out.read_bytes() == b"an older file"
    assert run(capsys, "decode", str(nfc), "-o", str(out), "--force")[0] == 0
    assert Image.open(out).size == (128, 128)
    small = nfc.read_bytes()
    assert run(capsys, "encode", str(face_png), "-o", str(nfc), "-q", "4", "-f", "--quiet")[0] == 0
    assert len(nfc.read_bytes()) > len(small)


@pytest.mark.parametrize("name", ["out.xyz", "out"])
def test_decode_to_an_unknown_extension_is_a_usage_error(capsys, face_png, tmp_path, name):
    nfc = tmp_path / "face.nfc"
    run(capsys, "encode", str(face_png), "-o", str(nfc), "-q", "1")
    code, _, err = run(capsys, "decode", str(nfc), "-o", str(tmp_path / name))
    assert code == 2 and one_line_error(err) and f"-o {tmp_path / name}" in err and ".png" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face.nfc", "face.png"]


def test_decode_picks_the_format_from_the_extension(capsys, face_png, tmp_path):
    nfc = tmp_path / "face.nfc"
    run(capsys, "encode", str(face_png), "-o", str(nfc), "-q", "1")
    assert run(capsys, "decode", str(nfc), "-o", str(tmp_path / "face.webp"))[0] == 0
    assert Image.open(tmp_path / "face.webp").format == "WEBP"


@pytest.mark.parametrize("quality", ["0", "99", "-2"])
def test_missing_quality_level_exits_2(capsys, face_png, quality):
    code, _, err = run(capsys, "encode", str(face_png), "-q", quality)
    assert code == 2 and one_line_error(err) and "quality" in err


def test_non_integer_quality_is_a_usage_error(capsys, face_png):
    assert run(capsys, "encode", str(face_png), "-q", "high")[0] == 2


def test_missing_input_exits_1(capsys, tmp_path):
    code, _, err = run(capsys, "decode", str(tmp_path / "none.nfc"))
    assert code == 1 and one_line_error(err) and f"{tmp_path / 'none.nfc'}: no such file" in err


def test_not_an_image_exits_1(capsys, tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("not an image")
    code, _, err = run(capsys, "encode", str(p), "-o", str(tmp_path / "x.nfc"))
    assert code == 1 and one_line_error(err) and f"{p}: not an image" in err
    assert not (tmp_path / "x.nfc").exists()


def test_damaged_nfc_exits_1_and_writes_nothing(capsys, face_png, tmp_path):
    nfc = tmp_path / "f.nfc"
    run(capsys, "encode", str(face_png), "-o", str(nfc))
    data = nfc.read_bytes()
    for damaged in (data[: len(data) // 2], data[:-1] + bytes([data[-1] ^ 1]), b"GIF89a" + data):
        nfc.write_bytes(damaged)
        code, _, err = run(capsys, "decode", str(nfc), "-o", str(tmp_path / "out.png"))
        assert code == 1 and one_line_error(err) and f"nfc: error: {nfc}: " in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.nfc", "face.png"]


def test_never_overwrites_its_input(capsys, face_png, tmp_path):
    nfc = tmp_path / "f.nfc"
    run(capsys, "encode", str(face_png), "-o", str(nfc))
    before = nfc.read_bytes()
    code, _, err = run(capsys, "decode", str(nfc), "-o", str(tmp_path / "." / "f.nfc"))
    assert code == 2 and "refusing to overwrite" in err and nfc.read_bytes() == before


def test_stdin_requires_an_output(capsys):
    code, _, err = run(capsys, "encode", "-")
    assert code == 2 and "-o is required" in err


def test_a_missing_output_folder_is_named_not_a_temporary_file(capsys, face_png, tmp_path):
    out = tmp_path / "missing" / "face.nfc"
    code, _, err = run(capsys, "encode", str(face_png), "-o", str(out))
    assert code == 1 and one_line_error(err) and ".tmp" not in err
    assert f"{out}: the output folder {out.parent} does not exist" in err


def test_failed_write_leaves_no_temporary_files(capsys, face_png, tmp_path, monkeypatch):
    import os

    def full_disk(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "link", full_disk)
    out = tmp_path / "face.nfc"
    code, _, err = run(capsys, "encode", str(face_png), "-o", str(out))
    assert code == 1 and one_line_error(err) and "No space left" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face.png"]


def test_help_explains_the_commands(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and all(c in out for c in ("encode", "decode", "info", "--version"))
    code, out, _ = run(capsys, "encode", "--help")
    assert code == 0 and all(f in out for f in ("--quality", "--force", "--recursive", "--jobs", "--quiet"))


def test_version_names_the_package_and_the_default_model(capsys):
    import neuralcodec
    from neuralcodec.models.catalog import DEFAULT_MODEL, spec_for

    code, out, _ = run(capsys, "--version")
    assert (
        code == 0
        and out.strip() == f"nfc {neuralcodec.__version__} (default model {spec_for(DEFAULT_MODEL).model_id})"
    )


@pytest.mark.parametrize("command", ["encode", "decode", "info", "bench"])
def test_every_command_takes_quiet(command):
    from neuralcodec.cli.main import build_parser

    extra = ["-o", "out"] if command == "bench" else []
    assert build_parser().parse_args([command, "x", "--quiet", *extra]).quiet


def test_quiet_prints_nothing_but_errors(capsys, face_png, tmp_path):
    nfc = tmp_path / "face.nfc"
    assert run(capsys, "encode", str(face_png), "-o", str(nfc), "-q", "1", "--quiet") == (0, "", "")
    assert run(capsys, "decode", str(nfc), "-o", str(tmp_path / "d.png"), "--quiet") == (0, "", "")
    assert run(capsys, "info", str(nfc), "--quiet") == (0, "", "")
    nfc.write_bytes(nfc.read_bytes()[:-2])
    code, out, err = run(capsys, "info", str(nfc), "--quiet")
    assert code == 1 and out == "" and one_line_error(err) and str(nfc) in err


def test_stdin_stdout_pipeline(face_png):
    """`nfc encode - -o - < face.png | nfc decode - -o -` in real processes."""
    cmd = [sys.executable, "-m", "neuralcodec.cli.main"]
    enc = subprocess.run(
        cmd + ["encode", "-", "-o", "-"], input=face_png.read_bytes(), capture_output=True, check=True
    )
    assert enc.stdout[:3] == b"NFC" and enc.stderr == b""  # no FutureWarning of torch either
    dec = subprocess.run(cmd + ["decode", "-", "-o", "-"], input=enc.stdout, capture_output=True, check=True)
    assert Image.open(io.BytesIO(dec.stdout)).size == (128, 128)
    bad = subprocess.run(cmd + ["decode", "-", "-o", "-"], input=enc.stdout[:-3], capture_output=True)
    assert bad.returncode == 1 and bad.stdout == b"" and bad.stderr.decode().startswith("nfc: error:")


@needs_extra("roi")
def test_encode_with_roi_auto_and_info_shows_it(capsys, face_png, tmp_path):
    nfc = tmp_path / "face.nfc"
    code, _, err = run(capsys, "encode", str(face_png), "-o", str(nfc), "-q", "3", "--roi", "auto")
    assert code == 0 and "warning" not in err
    code, out, _ = run(capsys, "info", str(nfc))
    assert code == 0 and "roi:" in out and "inside" in out
    code, out, _ = run(capsys, "info", str(nfc), "--json")
    info = json.loads(out)
    assert 0 < info["roi_inside_level_offset"] <= 2.0 and info["roi_outside_level_offset"] < 0
    assert len(info["roi_pixels"]) == 4 and info["header_bytes"] == 22
    assert run(capsys, "decode", str(nfc), "-o", str(tmp_path / "d.png"))[0] == 0


def test_encode_with_a_pixel_roi_and_boost(capsys, face_png, tmp_path):
    nfc = tmp_path / "face.nfc"
    code, _, _ = run(
        capsys, "encode", str(face_png), "-o", str(nfc), "--roi", "32,32,64,64", "--roi-boost", "1.5"
    )
    assert code == 0
    code, out, _ = run(capsys, "info", str(nfc), "--json")
    assert json.loads(out)["roi_cells"] == [2, 2, 4, 4] and json.loads(out)["roi_inside_level_offset"] == 1.5


@pytest.mark.parametrize(
    "args",
    [
        ["--roi", "1,2"],
        ["--roi", "0,0,500,500"],
        ["--roi", "0,0,0,5"],
        ["--roi", "x"],
        ["--roi-boost", "1"],
        ["--roi", "auto", "--roi-boost", "0.3"],
        ["--roi", "auto", "--roi-boost", "50"],
    ],
)
def test_bad_roi_exits_2_with_one_line(capsys, face_png, tmp_path, args):
    code, _, err = run(capsys, "encode", str(face_png), "-o", str(tmp_path / "x.nfc"), *args)
    assert code == 2 and one_line_error(err) and "roi" in err.lower()
    assert args[-2] in err  # the flag at fault: --roi or --roi-boost
    assert not (tmp_path / "x.nfc").exists()


def test_a_decoder_that_cannot_read_the_file_names_the_flag(capsys, face_png, tmp_path):
    from neuralcodec.models.catalog import spec_for

    beyond = max(spec_for("gan").qualities) + 1
    nfc = tmp_path / "face.nfc"
    assert run(capsys, "encode", str(face_png), "-o", str(nfc), "-q", str(beyond))[0] == 0
    code, _, err = run(capsys, "decode", str(nfc), "-o", str(tmp_path / "d.png"), "--decoder", "realistic")
    assert code == 2 and one_line_error(err) and f"{nfc}: " in err
    assert "faithful decoder (see --decoder)" in err and "decoder=" not in err


def test_an_unknown_model_names_the_flag(capsys, face_png, tmp_path):
    code, _, err = run(capsys, "encode", str(face_png), "-o", str(tmp_path / "x.nfc"), "-m", "nope")
    assert code == 2 and one_line_error(err) and "unknown model 'nope'" in err and "-m/--model" in err


@needs_extra("roi")
def test_roi_auto_without_a_face_warns_and_encodes(capsys, tmp_path):
    grey = tmp_path / "grey.png"
    Image.new("RGB", (128, 128), (128, 128, 128)).save(grey)
    code, _, err = run(capsys, "encode", str(grey), "-o", str(tmp_path / "g.nfc"), "--roi", "auto")
    assert code == 0 and f"nfc: warning: {grey}: no face found; encoding without ROI" in err
    code, out, _ = run(capsys, "info", str(tmp_path / "g.nfc"))
    assert "roi:" not in out


def test_bench_help_is_instant_and_does_not_import_torch():
    code = (
        "import sys\n"
        "from neuralcodec.cli.main import main\n"
        "try:\n    main(['bench', '--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
        "assert 'torch' not in sys.modules and 'neuralcodec.bench.suite' not in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.returncode == 0, done.stderr
    assert "--codecs" in done.stdout and "neuralcodec[bench]" in done.stdout


@needs_extra("bench")
def test_bench_end_to_end_on_two_tiny_images(capsys, tmp_path, face):
    data = tmp_path / "data"
    data.mkdir()
    Image.fromarray(face).save(data / "a.png")
    Image.fromarray(face[:64, :64]).save(data / "b.png")
    out = tmp_path / "out"
    code, stdout, err = run(
        capsys,
        "bench",
        str(data),
        "--codecs",
        "jpeg,nfc,jxl,compressai-peer",
        "-o",
        str(out),
        "--grid-images",
        "1",
        "--speed-batch",
        "1",
    )
    assert code == 0, err
    assert "BD-rate, PSNR" in stdout and "nfc: container header overhead" in stdout
    assert "compressai-peer: no weights" in stdout
    results = json.loads((out / "results.json").read_text())
    assert results["provenance"]["command"].startswith("nfc bench ")
    assert {"nfc", "jpeg"} <= set(results["rd"])
    for name in ("rd_psnr.png", "grid.png", "speed.json", "summary.md"):
        assert (out / name).is_file()


@needs_extra("bench")
def test_bench_unknown_codec_is_a_one_line_usage_error(capsys, tmp_path, face):
    Image.fromarray(face).save(tmp_path / "a.png")
    code, _, err = run(capsys, "bench", str(tmp_path), "--codecs", "jpeg,nope", "-o", str(tmp_path / "o"))
    assert code == 2 and one_line_error(err) and "unknown codec 'nope'" in err


@needs_extra("bench")
def test_bench_grid_from_a_missing_folder_is_a_one_line_usage_error(capsys, tmp_path, face):
    Image.fromarray(face).save(tmp_path / "a.png")
    out = tmp_path / "o"
    code, _, err = run(
        capsys,
        "bench",
        str(tmp_path),
        "--codecs",
        "jpeg",
        "-o",
        str(out),
        "--grid-from",
        str(tmp_path / "nope"),
    )
    assert code == 2 and one_line_error(err) and "nope is not a folder" in err
    assert not (out / "per_image.jsonl").exists()


def test_a_bug_is_not_reported_as_a_usage_error(capsys, face_png, monkeypatch):
    """A plain ValueError from inside the library is a bug: it keeps its traceback, not exit 2."""
    import neuralcodec

    def broken(*args, **kwargs):
        raise ValueError("an internal bug")

    monkeypatch.setattr(neuralcodec, "compress", broken)
    with pytest.raises(ValueError, match="internal bug"):
        main(["encode", str(face_png), "-o", "-"])


def test_help_lists_the_catalog_models_and_their_qualities(capsys, monkeypatch):
    """The help reads the model catalog: a model added there shows up with its qualities."""
    from dataclasses import replace

    from neuralcodec.models import catalog

    extra = replace(catalog.MODELS[0], model_id="face-test-v9", alias="test9", qualities=(1, 2, 3))
    monkeypatch.setattr(catalog, "MODELS", (*catalog.MODELS, extra))
    monkeypatch.setenv("COLUMNS", "1000")  # no line breaks inside the ids
    code, out, _ = run(capsys, "encode", "--help")
    flat = " ".join(out.split())
    assert code == 0 and "'test9' (face-test-v9, qualities 1..3)" in flat and "test9 has 1..3" in flat


def test_encode_to_a_byte_budget(capsys, face_png, tmp_path):
    out = tmp_path / "face.nfc"
    code, _, _ = run(capsys, "encode", str(face_png), "-o", str(out), "--size", "900")
    assert code == 0 and 0 < out.stat().st_size <= 900
    code, _, err = run(capsys, "encode", str(face_png), "-o", str(out), "--size", "900", "-q", "3")
    assert code == 2 and "not allowed with" in err
    code, _, err = run(capsys, "encode", str(face_png), "-o", str(tmp_path / "x.nfc"), "--size", "20")
    assert code == 2 and one_line_error(err) and "smallest file" in err and not (tmp_path / "x.nfc").exists()


def test_outputs_get_the_usual_permissions(capsys, face_png, tmp_path):
    """A new output gets 0o666 less the umask (not mkstemp's 0o600); a replaced one keeps its mode."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        out = tmp_path / "face.nfc"
        assert run(capsys, "encode", str(face_png), "-o", str(out))[0] == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o644
        out.chmod(0o640)
        assert run(capsys, "encode", str(face_png), "-o", str(out), "-q", "2", "-f")[0] == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o640
    finally:
        os.umask(old)
