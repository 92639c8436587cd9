"""neuralcodec.faces: Haar face detection, elliptical masks and the per-dataset cache."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from neuralcodec import faces

pytest.importorskip("cv2")

GREY = np.full((128, 128, 3), 128, dtype=np.uint8)


def test_finds_the_example_face(face):
    box = faces.detect_face(face)
    assert box is not None
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    assert 40 < cx < 88 and 40 < cy < 100 and 40 <= box.w <= 110


def test_no_face_in_a_flat_image():
    assert faces.detect_face(GREY) is None
    assert faces.face_mask_or_none(GREY) is None


def test_image_too_small_to_hold_a_face():
    assert faces.detect_face(np.zeros((10, 10, 3), np.uint8)) is None


def test_mask_of_a_box_is_an_ellipse_around_its_centre():
    box = faces.Box(20, 10, 60, 80)
    mask = faces.face_mask(box, (128, 100))
    assert mask.dtype == bool and mask.shape == (128, 100)
    cx, cy, ax, ay = faces._ellipse(box)
    assert mask[int(cy), int(cx)] and not mask[0, 0]
    assert mask.sum() == pytest.approx(np.pi * ax * ay, rel=0.03)
    x, y, w, h = faces.face_ellipse_bounds(box, (128, 100))
    ys, xs = np.nonzero(mask)
    assert x <= xs.min() and xs.max() < x + w and y <= ys.min() and ys.max() < y + h


def test_soft_mask_agrees_with_the_hard_one():
    box = faces.Box(30, 30, 60, 60)
    hard, soft = faces.face_mask(box, (128, 128)), faces.face_mask(box, (128, 128), soft=True)
    assert soft.dtype == np.float32 and 0.0 <= soft.min() and soft.max() <= 1.0
    assert np.mean((soft >= 0.5) == hard) > 0.99


def test_mask_of_an_image_uses_the_fallback_without_a_face():
    mask = faces.face_mask(GREY)
    assert mask.shape == (128, 128) and mask[64, 64] and not mask[0, 0]
    assert faces.fallback_box((100, 200)) == faces.Box(40, 20, 120, 60)


def test_box_without_shape_is_a_value_error():
    with pytest.raises(ValueError, match="shape"):
        faces.face_mask(faces.Box(0, 0, 10, 10))


@pytest.fixture
def tiny_dataset(tmp_path, face):
    data = tmp_path / "data"
    data.mkdir()
    Image.fromarray(face).save(data / "a.png")
    Image.fromarray(GREY).save(data / "b.png")
    return data


def test_mask_cache_round_trip(tiny_dataset, tmp_path):
    cache = tmp_path / "masks"
    path = faces.write_mask_cache(tiny_dataset, cache)
    assert path.exists() and path == faces.cache_path(tiny_dataset, cache)
    boxes = faces.load_boxes(tiny_dataset, cache)
    assert boxes["a.png"] == faces.detect_face(tiny_dataset / "a.png") and boxes["b.png"] is None
    masks = faces.load_masks(tiny_dataset, cache)
    assert masks["a.png"].shape == (128, 128) and masks["b.png"][64, 64]
    assert faces.load_masks(tiny_dataset, cache, fallback=False)["b.png"] is None


def test_cache_of_another_file_list_is_not_used(tiny_dataset, tmp_path, face):
    cache = tmp_path / "masks"
    faces.write_mask_cache(tiny_dataset, cache)
    Image.fromarray(face).save(tiny_dataset / "c.png")
    with pytest.raises(FileNotFoundError, match="make_masks"):
        faces.load_boxes(tiny_dataset, cache)


def test_user_supplied_mask_folder(tiny_dataset, tmp_path):
    folder = tmp_path / "user"
    folder.mkdir()
    for name in ("a", "b"):
        m = np.zeros((128, 128), np.uint8)
        m[40:80, 30:90] = 255
        Image.fromarray(m).save(folder / f"{name}.png")
    masks = faces.load_masks(tiny_dataset, folder)
    assert masks["a.png"].sum() == 40 * 60
    (folder / "b.png").unlink()
    with pytest.raises(FileNotFoundError, match="b.png"):
        faces.load_masks(tiny_dataset, folder)


@pytest.mark.faces
def test_finds_most_real_faces(real_faces):
    found = sum(faces.detect_face(p) is not None for p in real_faces)
    assert found >= len(real_faces) - 1
