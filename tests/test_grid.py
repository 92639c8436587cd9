"""bench/grid.py: one setting per codec closest to the target size, drawn as a PNG."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import skip_module_without
from PIL import Image

skip_module_without("bench")

from neuralcodec.bench import grid
from neuralcodec.bench.codecs import get_codec
from neuralcodec.bench.dataset import load_rgb


@pytest.fixture(scope="module")
def tiny_images(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("grid_images")
    rng = np.random.default_rng(3)
    paths = []
    for i in range(2):
        y, x = np.mgrid[0:64, 0:64]
        pixels = np.stack([x * 4, y * 4, (x * y) % 256], axis=-1) + rng.integers(0, 20, (64, 64, 3))
        paths.append(folder / f"tiny{i}.png")
        Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(paths[-1])
    return paths


def test_closest_quality_prefers_the_nearest_then_the_smaller_file():
    assert grid.closest_quality({1: 100, 2: 300, 3: 600}, 320) == 2
    assert grid.closest_quality({1: 100, 2: 300}, 200) == 1  # a tie: the smaller file
    assert grid.closest_quality({5: 900}, 10) == 5
    with pytest.raises(ValueError):
        grid.closest_quality({}, 10)


def test_pick_images_spreads_over_the_list():
    paths = [Path(f"{i:02d}.png") for i in range(10)]
    assert grid.pick_images(paths, 3) == [Path("00.png"), Path("04.png"), Path("09.png")]
    assert grid.pick_images(paths[:2], 5) == paths[:2]


def test_grid_picks_the_matched_size_of_every_codec(tiny_images, tmp_path):
    summary = grid.make_grid(tiny_images, ["jpeg", "webp"], tmp_path, n_images=2, target_bpp=1.0)
    with Image.open(tmp_path / grid.GRID_FILE) as png:
        assert png.format == "PNG" and png.width > 400
    assert json.loads((tmp_path / grid.GRID_JSON).read_text()) == summary
    assert [r["image"] for r in summary["rows"]] == ["tiny0.png", "tiny1.png"]
    for row in summary["rows"]:
        assert row["target_bytes"] == 64 * 64 // 8
        original = load_rgb(tiny_images[int(row["image"][4])])
        for tile in row["tiles"]:
            codec = get_codec(tile["codec"])
            sizes = {q: len(codec.encode(original, q)) for q in codec.qualities}
            best = min(abs(s - row["target_bytes"]) for s in sizes.values())
            assert sizes[tile["quality"]] == tile["n_bytes"]
            assert abs(tile["n_bytes"] - row["target_bytes"]) == best
            assert tile["psnr"] > 10
