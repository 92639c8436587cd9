"""bench/plot.py: RD plots from a results.json."""

from __future__ import annotations

import json

import pytest
from helpers import skip_module_without
from PIL import Image

skip_module_without("bench")

from neuralcodec.bench.plot import main


def fake_results() -> dict:
    def curve(scale: float) -> list[dict]:
        return [
            {"quality": q, "bpp": 0.1 * q * scale, "psnr": 20.0 + 2 * q, "ms_ssim_db": 8.0 + q}
            for q in range(1, 6)
        ]

    return {
        "provenance": {"dataset": {"n_images": 2, "root": "/data/faces/test"}},
        "rd": {"jpeg": curve(2.0), "nfc": curve(1.0)},
    }


def test_writes_both_plots(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps(fake_results()))
    assert main([str(tmp_path)]) == 0
    for name in ("rd_psnr.png", "rd_ms_ssim.png"):
        with Image.open(tmp_path / name) as img:
            assert img.format == "PNG" and img.width > 300


def test_missing_results_is_a_usage_error(tmp_path):
    with pytest.raises(SystemExit) as exc:
        main([str(tmp_path)])
    assert exc.value.code == 2
