"""bench/speed.py, bench/report.py and bench/suite.py on a tiny results folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import skip_module_without
from PIL import Image

skip_module_without("bench")

from neuralcodec.bench import grid, report, speed, suite
from neuralcodec.bench.provenance import REPO_ROOT
from neuralcodec.bench.store import PER_IMAGE_FILE
from neuralcodec.imaging import LOSSLESS_SUFFIXES, image_files


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("report_images")
    y, x = np.mgrid[0:64, 0:64]
    for i in range(2):
        pixels = np.stack([x * 4, y * 4, (x + y + 40 * i) % 256], axis=-1).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"img{i}.png")
    return folder


@pytest.fixture(scope="module")
def results_folder(tiny_folder, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("results")
    options = suite.SuiteOptions(grid_images=1, speed_batch=2)
    summary = suite.run(tiny_folder, ["jpeg", "webp"], out, options, command=["test", "suite"])
    assert summary == out / "summary.md"
    return out


def test_suite_writes_every_output(results_folder):
    for name in (
        "per_image.jsonl",
        "results.json",
        "rd_psnr.png",
        "rd_ms_ssim.png",
        grid.GRID_FILE,
        grid.GRID_JSON,
        speed.SPEED_FILE,
        "summary.md",
    ):
        assert (results_folder / name).is_file(), name
    text = (results_folder / "summary.md").read_text()
    assert "![visual grid at matched file size](grid.png)" in text
    assert "## Speed" in text and "× compressai-msh" in text
    assert text.index("## Figures") < text.index("## Rate–distortion points")


def test_speed_times_every_codec_and_the_references(results_folder):
    timings = json.loads((results_folder / speed.SPEED_FILE).read_text())["timings"]
    assert {"jpeg", "webp", "avif", "compressai-msh"} <= set(timings)
    for t in timings.values():
        assert t["encode_ms"] > 0 and t["decode_ms"] > 0 and t["decode_images_per_s"] > 0


def test_fresh_starts_over(tiny_folder, results_folder, tmp_path):
    out = tmp_path / "r"
    options = suite.SuiteOptions(limit=1, grid_images=0, measure_speed=False)
    suite.run(tiny_folder, ["jpeg"], out, options, command=["a"])
    (out / "per_image.jsonl").write_text('{"codec": "jpeg", "stale": true}\n')
    suite.run(
        tiny_folder,
        ["jpeg"],
        out,
        suite.SuiteOptions(limit=1, grid_images=0, measure_speed=False, fresh=True),
        command=["b"],
    )
    assert '"stale"' not in (out / "per_image.jsonl").read_text()


def test_grid_from_another_folder_uses_only_its_images(tiny_folder, tmp_path):
    """The faces benchmark draws its committed grid from docs/example, not from the data."""
    example = tmp_path / "example"
    example.mkdir()
    y, x = np.mgrid[0:48, 0:48]
    Image.fromarray(np.stack([x * 5, y * 5, x + y], axis=-1).astype(np.uint8)).save(example / "face.png")
    (example / "face.nfc").write_bytes(b"NFC not an image")
    (example / "README.txt").write_text("not an image\n")
    out = tmp_path / "r"
    options = suite.SuiteOptions(grid_images=3, grid_from=example, measure_speed=False)
    suite.run(tiny_folder, ["jpeg"], out, options, command=["test"])
    g = json.loads((out / grid.GRID_JSON).read_text())
    assert [row["image"] for row in g["rows"]] == ["face.png"]
    assert g["images_from"] == example.resolve().as_posix()
    assert f"Crops of the images in `{g['images_from']}`" in (out / "summary.md").read_text()


def test_grid_names_its_folder_relative_to_the_repository(tmp_path):
    example = REPO_ROOT / "docs" / "example"
    g = grid.make_grid(image_files(example, LOSSLESS_SUFFIXES), ["jpeg"], tmp_path, n_images=1)
    assert g["images_from"] == "docs/example"


def test_grid_from_a_folder_without_images_fails_before_the_sweep(tiny_folder, tmp_path):
    out = tmp_path / "r"
    options = suite.SuiteOptions(grid_from=tmp_path / "missing", measure_speed=False)
    with pytest.raises(ValueError, match="is not a folder"):
        suite.run(tiny_folder, ["jpeg"], out, options, command=["test"])
    assert not (out / PER_IMAGE_FILE).exists()


def test_report_builds_results_md_and_copies_the_figures(results_folder, tmp_path):
    out = tmp_path / "bench" / "RESULTS.md"
    assert report.main([f"faces={results_folder}", f"kodak={results_folder}", "-o", str(out)]) == 0
    text = out.read_text()
    assert report.REGENERATE in text and "## Machine" in text and "CPU cores" in text
    assert "# faces" in text and "# kodak" in text and "768×512" in text
    assert "Development numbers" not in text  # no --limit in the recorded command
    assert "![RD curve, PSNR (dB)](img/faces_rd_psnr.png)" in text
    for name in ("faces_rd_psnr.png", "kodak_grid.png"):
        assert (tmp_path / "bench" / "img" / name).is_file()


def test_report_needs_results(tmp_path):
    with pytest.raises(SystemExit) as exc:
        report.main([f"faces={tmp_path}", "-o", str(tmp_path / "R.md")])
    assert exc.value.code == 2


def _section(folder: Path, title: str, body: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "summary.md").write_text(f"## {title}\n\n{body}\n")
    return folder / "summary.md"


def test_sections_follow_the_data_sets_in_order_with_their_images(results_folder, tmp_path):
    roi = _section(
        tmp_path / "runs" / "roi",
        "ROI at equal size",
        "![faces](plot.png) and [curves](sub/curve.png), ![gone](missing.png), "
        "![web](https://example.org/x.png)\n\n### Details\n\nmore",
    )
    Image.new("RGB", (4, 4), "red").save(roi.parent / "plot.png")
    (roi.parent / "sub").mkdir()
    Image.new("RGB", (4, 4), "blue").save(roi.parent / "sub" / "curve.png")
    gan = _section(tmp_path / "runs" / "gan-eval", "GAN decoder", "no figures")
    again = _section(tmp_path / "other" / "roi", "ROI again", "![faces](plot.png)")
    Image.new("RGB", (4, 4), "green").save(again.parent / "plot.png")
    out = tmp_path / "bench" / "RESULTS.md"
    argv = [f"faces={results_folder}", "-o", str(out)]
    for section in (gan, roi, again):
        argv += ["--section", str(section)]
    assert report.main(argv) == 0
    text = out.read_text()
    order = [
        "# faces",
        f"# {report.SECTIONS_TITLE}",
        "## GAN decoder",
        "## ROI at equal size",
        "### Details",
        "## ROI again",
    ]
    positions = [text.index(f"\n{heading}\n") for heading in order]
    assert positions == sorted(positions)
    assert "![faces](img/roi_plot.png) and [curves](img/roi_sub_curve.png)" in text
    assert "![gone](missing.png)" in text and "![web](https://example.org/x.png)" in text
    assert "![faces](img/roi-2_plot.png)" in text
    img = tmp_path / "bench" / "img"
    assert Image.open(img / "roi_plot.png").getpixel((0, 0)) == (255, 0, 0)
    assert Image.open(img / "roi_sub_curve.png").getpixel((0, 0)) == (0, 0, 255)
    assert Image.open(img / "roi-2_plot.png").getpixel((0, 0)) == (0, 128, 0)


def test_without_sections_there_is_no_studies_part(results_folder, tmp_path):
    out = tmp_path / "RESULTS.md"
    assert report.main([f"faces={results_folder}", "-o", str(out)]) == 0
    assert report.SECTIONS_TITLE not in out.read_text()


def test_a_missing_or_headless_section_is_a_usage_error(results_folder, tmp_path, capsys):
    headless = tmp_path / "headless.md"
    headless.write_text("# Not a section\n")
    for section, message in (
        (tmp_path / "runs" / "nope.md", "nope.md not found"),
        (headless, "must start with a '## Title' heading"),
    ):
        with pytest.raises(SystemExit) as exc:
            report.main([f"faces={results_folder}", "--section", str(section), "-o", str(tmp_path / "R.md")])
        assert exc.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "R.md").exists()
