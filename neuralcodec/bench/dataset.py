"""The benchmark's images: which files, under which names, with which content, as which pixels.

    image paths --dataset--> DatasetImage(path, name relative to their common folder, sha256)
    DatasetImage.path --load_rgb--> 8-bit RGB carrying pixels only

Names and hashes key the per-image results (bench.store), so a resume recognises an image by
its content, not only by its name. Which files of a folder are images is neuralcodec's one
definition, `neuralcodec.imaging.image_files(folder, LOSSLESS_SUFFIXES)`.
"""

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class DatasetImage:
    path: Path
    name: str
    sha256: str


def load_rgb(path: Path) -> Image.Image:
    """An 8-bit RGB image carrying pixels only, no metadata.

    Rebuilt from its pixels so that no codec is handed an ICC profile or EXIF that another
    would not get."""
    with Image.open(path) as im:
        return Image.fromarray(np.asarray(im.convert("RGB")))


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dataset(image_paths: Iterable[str | os.PathLike], limit: int | None) -> list[DatasetImage]:
    """The first `limit` images (sorted by path), named relative to their common folder."""
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    paths = sorted({Path(p) for p in image_paths})[:limit]
    if not paths:
        raise ValueError("no images given")
    root = common_folder(paths)
    return [DatasetImage(p, p.relative_to(root).as_posix(), file_sha256(p)) for p in paths]


def common_folder(paths: Iterable[Path]) -> Path:
    return Path(os.path.commonpath([p.parent for p in paths]))
