"""tools.mask_cache: the per-dataset cache of face boxes and the masks built from it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from neuralcodec import faces
from tools import mask_cache

pytest.importorskip("cv2")

GREY = np.full((128, 128, 3), 128, dtype=np.uint8)


@pytest.fixture
def tiny_dataset(tmp_path, face):
    data = tmp_path / "data"
    data.mkdir()
    Image.fromarray(face).save(data / "a.png")
    Image.fromarray(GREY).save(data / "b.png")
    return data


def test_mask_cache_round_trip(tiny_dataset, tmp_path):
    cache = tmp_path / "masks"
    path = mask_cache.write_mask_cache(tiny_dataset, cache)
    assert path.exists() and path == mask_cache.cache_path(tiny_dataset, cache)
    boxes = mask_cache.load_boxes(tiny_dataset, cache)
    assert boxes["a.png"] == faces.detect_face(tiny_dataset / "a.png") and boxes["b.png"] is None
    masks = mask_cache.load_masks(tiny_dataset, cache)
    assert masks["a.png"].shape == (128, 128) and masks["b.png"][64, 64]
    assert mask_cache.load_masks(tiny_dataset, cache, fallback=False)["b.png"] is None


def test_cache_of_another_file_list_is_not_used(tiny_dataset, tmp_path, face):
    cache = tmp_path / "masks"
    mask_cache.write_mask_cache(tiny_dataset, cache)
    Image.fromarray(face).save(tiny_dataset / "c.png")
    with pytest.raises(FileNotFoundError, match="make_masks"):
        mask_cache.load_boxes(tiny_dataset, cache)


def test_user_supplied_mask_folder(tiny_dataset, tmp_path):
    folder = tmp_path / "user"
    folder.mkdir()
    for name in ("a", "b"):
        m = np.zeros((128, 128), np.uint8)
        m[40:80, 30:90] = 255
        Image.fromarray(m).save(folder / f"{name}.png")
    masks = mask_cache.load_masks(tiny_dataset, folder)
    assert masks["a.png"].sum() == 40 * 60
    (folder / "b.png").unlink()
    with pytest.raises(FileNotFoundError, match="b.png"):
        mask_cache.load_masks(tiny_dataset, folder)
