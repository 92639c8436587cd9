"""Face detection and elliptical face masks.

::

    image -> 8-bit grey, histogram-equalised -> OpenCV Haar cascade (frontal face) -> largest box
    box -> ellipse (the face region) -> bool [H, W] mask, or float [H, W] weights

The detector is OpenCV's stock frontal-face Haar cascade, which opencv-python-headless ships
as an XML file (``cv2.data.haarcascades``): no model download. ``cv2`` is imported on first
use only, so the codec works without OpenCV unless a face has to be found.

Masks serve three users: the encoder's ``roi="auto"`` (:func:`detect_face`), the loss of a
face-masked training run (a per-dataset cache, :func:`load_masks`, written by
``tools/make_masks.py``), and face-region metrics (:func:`face_mask_or_none`).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from neuralcodec import imaging

CASCADE_FILE = "haarcascade_frontalface_default.xml"
#: Detector settings, tuned on 128x128 CelebA crops (docs/models.md): a fine pyramid because
#: the face fills most of the image, and a small minimum size for small images.
SCALE_FACTOR = 1.05
MIN_NEIGHBORS = 3
MIN_FACE_PX = 24
MIN_FACE_FRACTION = 0.1

#: The face ellipse relative to the Haar box: the box spans brows to mouth and cheek to
#: cheek, so the ellipse is centred a little below the box centre and taller than the box.
ELLIPSE_CENTER_Y = 0.55  # of the box height, from its top
ELLIPSE_SEMI_X = 0.40  # of the box width
ELLIPSE_SEMI_Y = 0.58  # of the box height
#: Where no face is found: a centred box of these fractions of the image.
FALLBACK_BOX_FRACTION = (0.6, 0.6)

MASK_CACHE_VERSION = 1
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in pixels: left, top, width, height."""

    x: int
    y: int
    w: int
    h: int


@lru_cache(maxsize=1)
def _cascade():
    import cv2

    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + CASCADE_FILE)
    if cascade.empty():
        raise RuntimeError(f"OpenCV could not load {CASCADE_FILE} from {cv2.data.haarcascades}")
    return cascade


def _grey(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.equalizeHist(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY))


def detect_face(image: imaging.ImageInput) -> Box | None:
    """The largest frontal face in ``image`` (anything :func:`imaging.load_rgb` takes), or None."""
    rgb = imaging.load_rgb(image)
    side = max(MIN_FACE_PX, round(MIN_FACE_FRACTION * min(rgb.shape[:2])))
    if side > min(rgb.shape[:2]):
        return None
    found = _cascade().detectMultiScale(
        _grey(rgb), scaleFactor=SCALE_FACTOR, minNeighbors=MIN_NEIGHBORS, minSize=(side, side)
    )
    if len(found) == 0:
        return None
    x, y, w, h = max((tuple(int(v) for v in b) for b in found), key=lambda b: (b[2] * b[3], b))
    return Box(x, y, w, h)


def fallback_box(shape: tuple[int, int]) -> Box:
    """A centred box for images where no face was found; ``shape`` is (height, width)."""
    height, width = shape[:2]
    w = max(1, round(width * FALLBACK_BOX_FRACTION[0]))
    h = max(1, round(height * FALLBACK_BOX_FRACTION[1]))
    return Box((width - w) // 2, (height - h) // 2, w, h)


def _ellipse(box: Box) -> tuple[float, float, float, float]:
    """(centre x, centre y, semi-axis x, semi-axis y) of the face ellipse of ``box``, in pixels."""
    return (box.x + box.w / 2, box.y + ELLIPSE_CENTER_Y * box.h, ELLIPSE_SEMI_X * box.w, ELLIPSE_SEMI_Y * box.h)


def face_ellipse_bounds(box: Box, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x, y, w, h) in pixels of the face ellipse's bounding box, clipped to ``shape`` = (H, W)."""
    cx, cy, ax, ay = _ellipse(box)
    height, width = shape[:2]
    x0, y0 = max(0, math.floor(cx - ax)), max(0, math.floor(cy - ay))
    x1, y1 = min(width, math.ceil(cx + ax)), min(height, math.ceil(cy + ay))
    return x0, y0, max(1, x1 - x0), max(1, y1 - y0)


def face_mask(source: Box | imaging.ImageInput, shape: tuple[int, int] | None = None, soft: bool = False) -> np.ndarray:
    """The elliptical face mask of a box, or of the face found in an image.

    ``source`` is a :class:`Box` (then ``shape`` = (height, width) is required) or an image
    (then ``shape`` defaults to its size; no face -> the :func:`fallback_box` ellipse).
    Returns bool [H, W], or float32 weights in [0, 1] with a 1-pixel-wide soft edge when
    ``soft``.
    """
    if not isinstance(source, Box):
        rgb = imaging.load_rgb(source)
        shape = shape or rgb.shape[:2]
        source = detect_face(rgb) or fallback_box(rgb.shape[:2])
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
    return None if box is None else face_mask(box, rgb.shape[:2])


# --- per-dataset cache ------------------------------------------------------------------


def image_files(folder: Path) -> list[Path]:
    """The images of a data folder, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def file_list_hash(files: list[Path]) -> str:
    """16 hex digits naming a file list (names and sizes) and the detector settings."""
    h = hashlib.sha256()
    settings = (MASK_CACHE_VERSION, CASCADE_FILE, SCALE_FACTOR, MIN_NEIGHBORS, MIN_FACE_PX, MIN_FACE_FRACTION)
    h.update(json.dumps(settings).encode())
    for p in files:
        h.update(f"{p.name}\0{p.stat().st_size}\n".encode())
    return h.hexdigest()[:16]


def cache_path(data_dir: Path, cache_dir: Path) -> Path:
    return Path(cache_dir) / f"faces-{file_list_hash(image_files(data_dir))}.npz"


def write_mask_cache(data_dir: Path, cache_dir: Path, progress=None) -> Path:
    """Detect the face of every image of ``data_dir`` and store the boxes in ``cache_dir``.

    The cache holds names, image sizes and boxes (-1 where no face was found), not masks:
    masks are rebuilt from boxes in microseconds. ``progress`` wraps the file iterator
    (e.g. ``tqdm``).
    """
    files = image_files(data_dir)
    names, sizes, boxes = [], [], []
    for p in progress(files) if progress else files:
        rgb = imaging.load_rgb(p)
        box = detect_face(rgb)
        names.append(p.name)
        sizes.append(rgb.shape[:2])
        boxes.append((-1, -1, -1, -1) if box is None else (box.x, box.y, box.w, box.h))
    out = cache_path(data_dir, cache_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, names=np.array(names), sizes=np.array(sizes, dtype=np.int32).reshape(-1, 2),
                        boxes=np.array(boxes, dtype=np.int32).reshape(-1, 4))
    tmp.replace(out)
    return out


def load_boxes(data_dir: Path, cache_dir: Path) -> dict[str, Box | None]:
    """File name -> detected face box (None: no face), from the cache of ``data_dir``.

    Raises FileNotFoundError naming ``tools/make_masks.py`` when the cache is missing or
    was made for another file list or detector.
    """
    path = cache_path(data_dir, cache_dir)
    if not path.exists():
        raise FileNotFoundError(f"no face cache {path}; run: python tools/make_masks.py {data_dir} -o {cache_dir}")
    with np.load(path) as npz:
        return {
            str(n): None if b[2] < 0 else Box(*(int(v) for v in b))
            for n, b in zip(npz["names"], npz["boxes"])
        }


def load_masks(data_dir: Path, masks: Path, fallback: bool = True) -> dict[str, np.ndarray | None]:
    """File name -> bool [H, W] face mask for every image of ``data_dir``.

    ``masks`` is either a cache folder written by ``tools/make_masks.py`` (ellipses from the
    detected boxes) or a user-supplied folder with one mask image per input image, same stem,
    any nonzero pixel = face. Images without a detected face get the centred fallback
    ellipse, or None when ``fallback`` is False.
    """
    files = image_files(data_dir)
    masks = Path(masks)
    if cache_path(data_dir, masks).exists():
        boxes = load_boxes(data_dir, masks)
        out = {}
        for p in files:
            with Image.open(p) as im:
                shape = (im.height, im.width)
            box = boxes.get(p.name)
            if box is None and fallback:
                box = fallback_box(shape)
            out[p.name] = None if box is None else face_mask(box, shape)
        return out
    supplied = {q.stem: q for q in image_files(masks)}
    if not supplied:
        raise FileNotFoundError(f"{masks} holds neither a face cache for {data_dir} nor mask images")
    out = {}
    for p in files:
        if p.stem not in supplied:
            raise FileNotFoundError(f"no mask for {p.name} in {masks}")
        with Image.open(supplied[p.stem]) as im:
            out[p.name] = np.asarray(im.convert("L")) > 0
    return out
