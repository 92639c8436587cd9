"""Face detection and elliptical face masks.

::

    image -> 8-bit grey, histogram-equalised -> OpenCV Haar cascade (frontal face) -> largest box
    box -> ellipse (the face region) -> bool [H, W] mask, or float [H, W] weights

The detector is OpenCV's stock frontal-face Haar cascade, which opencv-python-headless ships
as an XML file (``cv2.data.haarcascades``): no model download. ``cv2`` is imported on first
use only, so the codec works without OpenCV unless a face has to be found; OpenCV is the
``roi`` extra (``pip install 'neuralcodec[roi]'``), and without it finding a face raises
:class:`~neuralcodec.errors.MissingDependency` saying so.

Masks serve three users: the encoder's ``roi="auto"`` (:func:`detect_face`), the loss of a
face-masked training run (the per-dataset cache of ``tools/mask_cache.py``), and
face-region metrics (:func:`face_mask_or_none`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType

import numpy as np

from neuralcodec import imaging
from neuralcodec.errors import MissingDependency

CASCADE_FILE = "haarcascade_frontalface_default.xml"
#: Detector settings, tuned on 128x128 CelebA crops (docs/models.md): a fine pyramid because
#: the face fills most of the image, and a small minimum size for small images.
SCALE_FACTOR = 1.05
MIN_NEIGHBORS = 3
MIN_FACE_PX = 24
MIN_FACE_FRACTION = 0.1
#: The neighbour count (overlapping raw detections merged into a box) from which a box is
#: trusted to be a face, for ``roi="auto"``. Tuned on faces/train and Kodak
#: (``python -m tools.face_confidence``): every sampled training face has 18 or more, the
#: boxes on Kodak's non-face photos at most 11.
MIN_CONFIDENT_NEIGHBORS = 15

#: The face ellipse relative to the Haar box: the box spans brows to mouth and cheek to
#: cheek, so the ellipse is centred a little below the box centre and taller than the box.
ELLIPSE_CENTER_Y = 0.55  # of the box height, from its top
ELLIPSE_SEMI_X = 0.40  # of the box width
ELLIPSE_SEMI_Y = 0.58  # of the box height
#: Where no face is found: a centred box of these fractions of the image.
FALLBACK_BOX_FRACTION = (0.6, 0.6)


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in pixels: left, top, width, height."""

    x: int
    y: int
    w: int
    h: int


def _cv2() -> ModuleType:
    """The cv2 module, or :class:`MissingDependency` naming the extra that installs it."""
    try:
        import cv2
    except ImportError as exc:
        raise MissingDependency(
            "finding a face (--roi auto, face masks) needs OpenCV: pip install 'neuralcodec[roi]'"
        ) from exc
    return cv2


@lru_cache(maxsize=1)
def _cascade():
    cv2 = _cv2()
    folder = cv2.data.haarcascades
    cascade = cv2.CascadeClassifier(folder + CASCADE_FILE)
    if cascade.empty():
        raise RuntimeError(f"OpenCV could not load {CASCADE_FILE} from {folder}")
    return cascade


def _grey(rgb: np.ndarray) -> np.ndarray:
    cv2 = _cv2()
    return cv2.equalizeHist(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY))


def detections(image: imaging.ImageInput) -> list[tuple[Box, int]]:
    """Every frontal-face box in ``image`` with its neighbour count (more = surer)."""
    rgb = imaging.load_rgb(image)
    side = max(MIN_FACE_PX, round(MIN_FACE_FRACTION * min(rgb.shape[:2])))
    if side > min(rgb.shape[:2]):
        return []
    boxes, neighbours = _cascade().detectMultiScale2(
        _grey(rgb), scaleFactor=SCALE_FACTOR, minNeighbors=MIN_NEIGHBORS, minSize=(side, side)
    )
    return [(Box(*(int(v) for v in b)), int(n)) for b, n in zip(boxes, np.ravel(neighbours), strict=True)]


def detect_face(image: imaging.ImageInput, min_neighbors: int = MIN_NEIGHBORS) -> Box | None:
    """The largest frontal face in ``image`` (anything :func:`imaging.load_rgb` takes) with at
    least ``min_neighbors`` neighbours, or None. :data:`MIN_CONFIDENT_NEIGHBORS` keeps only
    confident detections; the default keeps every box (masks for training and metrics)."""
    found = [box for box, n in detections(image) if n >= min_neighbors]
    if not found:
        return None
    return max(found, key=lambda b: (b.w * b.h, (b.x, b.y, b.w, b.h)))


def fallback_box(shape: tuple[int, int]) -> Box:
    """A centred box for images where no face was found; ``shape`` is (height, width)."""
    height, width = shape[:2]
    w = max(1, round(width * FALLBACK_BOX_FRACTION[0]))
    h = max(1, round(height * FALLBACK_BOX_FRACTION[1]))
    return Box((width - w) // 2, (height - h) // 2, w, h)


def _ellipse(box: Box) -> tuple[float, float, float, float]:
    """(centre x, centre y, semi-axis x, semi-axis y) of the face ellipse of ``box``, in pixels."""
    return (
        box.x + box.w / 2,
        box.y + ELLIPSE_CENTER_Y * box.h,
        ELLIPSE_SEMI_X * box.w,
        ELLIPSE_SEMI_Y * box.h,
    )


def face_ellipse_bounds(box: Box, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x, y, w, h) in pixels of the face ellipse's bounding box, clipped to ``shape`` = (H, W)."""
    cx, cy, ax, ay = _ellipse(box)
    height, width = shape[:2]
    x0, y0 = max(0, math.floor(cx - ax)), max(0, math.floor(cy - ay))
    x1, y1 = min(width, math.ceil(cx + ax)), min(height, math.ceil(cy + ay))
    return x0, y0, max(1, x1 - x0), max(1, y1 - y0)


def face_mask(
    source: Box | imaging.ImageInput, shape: tuple[int, int] | None = None, soft: bool = False
) -> np.ndarray:
    """The elliptical face mask of a box, or of the face found in an image.

    ``source`` is a :class:`Box` (then ``shape`` = (height, width) is required) or an image
    (then ``shape`` defaults to its size; no face -> the :func:`fallback_box` ellipse).
    Returns bool [H, W], or float32 weights in [0, 1] with a 1-pixel-wide soft edge when
    ``soft``.
    """
    if not isinstance(source, Box):
        rgb = imaging.load_rgb(source)
        image_shape = (rgb.shape[0], rgb.shape[1])
        shape = shape or image_shape
        source = detect_face(rgb) or fallback_box(image_shape)
    if shape is None:
        raise ValueError("face_mask needs the mask shape (height, width) with a box")
    height, width = shape[:2]
    cx, cy, ax, ay = _ellipse(source)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
    radius = np.sqrt(((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2)
    if not soft:
        return radius <= 1.0
    return np.clip((1.0 - radius) * min(ax, ay) + 0.5, 0.0, 1.0).astype(np.float32)


def face_mask_or_none(image: imaging.ImageInput) -> np.ndarray | None:
    """Bool [H, W] face mask of ``image``, or None where no face is found (for metrics)."""
    rgb = imaging.load_rgb(image)
    box = detect_face(rgb)
    return None if box is None else face_mask(box, (rgb.shape[0], rgb.shape[1]))
