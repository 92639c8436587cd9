"""The face boxes of a training or test folder, detected once and cached.

    folder --faces.detect_face per image--> names, sizes, boxes --> CACHE/faces-<hash>.npz
    CACHE --load_masks--> file name -> bool [H, W] face ellipse (for a face-masked loss or
    face-region metrics)

The cache file is named by the folder's file list (names and sizes) and the detector
settings, so a changed folder or detector never reuses stale boxes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from PIL import Image

from neuralcodec import faces, imaging
from neuralcodec.imaging import image_files

MASK_CACHE_VERSION = 1


def file_list_hash(files: list[Path]) -> str:
    """16 hex digits naming a file list (names and sizes) and the detector settings."""
    h = hashlib.sha256()
    settings = (
        MASK_CACHE_VERSION,
        faces.CASCADE_FILE,
        faces.SCALE_FACTOR,
        faces.MIN_NEIGHBORS,
        faces.MIN_FACE_PX,
        faces.MIN_FACE_FRACTION,
    )
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
        box = faces.detect_face(rgb)
        names.append(p.name)
        sizes.append(rgb.shape[:2])
        boxes.append((-1, -1, -1, -1) if box is None else (box.x, box.y, box.w, box.h))
    out = cache_path(data_dir, cache_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.npz")
    np.savez_compressed(
        tmp,
        names=np.array(names),
        sizes=np.array(sizes, dtype=np.int32).reshape(-1, 2),
        boxes=np.array(boxes, dtype=np.int32).reshape(-1, 4),
    )
    tmp.replace(out)
    return out


def load_boxes(data_dir: Path, cache_dir: Path) -> dict[str, faces.Box | None]:
    """File name -> detected face box (None: no face), from the cache of ``data_dir``.

    Raises FileNotFoundError naming ``python -m tools.make_masks`` when the cache is missing or
    was made for another file list or detector.
    """
    path = cache_path(data_dir, cache_dir)
    if not path.exists():
        raise FileNotFoundError(
            f"no face cache {path}; run: python -m tools.make_masks {data_dir} -o {cache_dir}"
        )
    with np.load(path) as npz:
        return {
            str(n): None if b[2] < 0 else faces.Box(*(int(v) for v in b))
            for n, b in zip(npz["names"], npz["boxes"], strict=True)
        }


def load_masks(data_dir: Path, masks: Path, fallback: bool = True) -> dict[str, np.ndarray | None]:
    """File name -> bool [H, W] face mask for every image of ``data_dir``.

    ``masks`` is either a cache folder written by ``python -m tools.make_masks`` (ellipses from the
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
                box = faces.fallback_box(shape)
            out[p.name] = None if box is None else faces.face_mask(box, shape)
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
