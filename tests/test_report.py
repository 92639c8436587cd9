"""bench/speed.py, bench/report.py and bench/suite.py on a tiny results folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench import grid, report, speed, suite


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
    for name in ("per_image.jsonl", "results.json", "rd_psnr.png", "rd_ms_ssim.png",
                 grid.GRID_FILE, grid.GRID_JSON, speed.SPEED_FILE, "summary.md"):
        assert (results_folder / name).is_file(), name
    text = (results_folder / "summary.md").read_text()
    assert "![visual grid at matched file size](grid.png)" in text
    assert "## Speed" in text and "× compressai-msh" in text
    assert text.index("## Figures") < text.index("## Rate–distortion points")


def test_speed_times_every_codec_and_the_references(results_folder):
    import json

    timings = json.loads((results_folder / speed.SPEED_FILE).read_text())["timings"]
    assert {"jpeg", "webp", "avif", "compressai-msh"} <= set(timings)
    for t in timings.values():
        assert t["encode_ms"] > 0 and t["decode_ms"] > 0 and t["decode_images_per_s"] > 0


def test_fresh_starts_over(tiny_folder, results_folder, tmp_path):
    out = tmp_path / "r"
    options = suite.SuiteOptions(limit=1, grid_images=0, measure_speed=False)
    suite.run(tiny_folder, ["jpeg"], out, options, command=["a"])
    (out / "per_image.jsonl").write_text('{"codec": "jpeg", "stale": true}\n')
    suite.run(tiny_folder, ["jpeg"], out, suite.SuiteOptions(limit=1, grid_images=0, measure_speed=False, fresh=True),
              command=["b"])
    assert '"stale"' not in (out / "per_image.jsonl").read_text()


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
