"""neuralcodec.faces: Haar face detection and elliptical masks."""

from __future__ import annotations

import numpy as np
import pytest

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


@pytest.mark.faces
def test_finds_most_real_faces(real_faces):
    found = sum(faces.detect_face(p) is not None for p in real_faces)
    assert found >= len(real_faces) - 1


def test_the_example_face_is_a_confident_detection(face):
    (box, neighbours), *_ = sorted(faces.detections(face), key=lambda d: -d[0].w * d[0].h)
    assert neighbours >= faces.MIN_CONFIDENT_NEIGHBORS
    assert (
        faces.detect_face(face, min_neighbors=faces.MIN_CONFIDENT_NEIGHBORS) == box == faces.detect_face(face)
    )


def test_a_weak_detection_is_not_trusted(monkeypatch):
    """A box with few neighbours (Haar's "face" on a cat or a door) is no face for roi="auto"."""
    weak, strong = faces.Box(10, 10, 60, 60), faces.Box(40, 40, 30, 30)
    monkeypatch.setattr(faces, "detections", lambda image: [(weak, faces.MIN_CONFIDENT_NEIGHBORS - 1)])
    assert faces.detect_face(GREY) == weak  # masks keep every box
    assert faces.detect_face(GREY, min_neighbors=faces.MIN_CONFIDENT_NEIGHBORS) is None
    found = [(weak, faces.MIN_CONFIDENT_NEIGHBORS - 1), (strong, faces.MIN_CONFIDENT_NEIGHBORS)]
    monkeypatch.setattr(faces, "detections", lambda image: found)
    assert faces.detect_face(GREY, min_neighbors=faces.MIN_CONFIDENT_NEIGHBORS) == strong
    assert faces.detect_face(GREY) == weak  # the largest


def test_the_confidence_tool_reports_faces_and_other_photos(tmp_path, face, capsys):
    from PIL import Image

    from tools import face_confidence

    (tmp_path / "faces").mkdir()
    (tmp_path / "others").mkdir()
    Image.fromarray(face).save(tmp_path / "faces" / "a.png")
    Image.fromarray(GREY).save(tmp_path / "others" / "grey.png")
    Image.fromarray(face).save(tmp_path / "others" / "person.png")
    argv = ["--faces", str(tmp_path / "faces"), "--others", str(tmp_path / "others"), "--exclude", "person"]
    assert face_confidence.main([*argv, "--nice", "0"]) == 0
    out = capsys.readouterr().out
    assert f"{faces.MIN_CONFIDENT_NEIGHBORS}: 1.000" in out and "grey.png: none" in out
    assert "person.png" not in out and "most neighbours of a box on the other photos: 0" in out
