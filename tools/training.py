"""What the training tools share: configs, data, checkpoints and the stop guard.

    folders --load_images--> uint8 [N, H, W, 3] per folder (cached .npy)
            --build_buckets--> each folder at its native size and at smaller scales
            --sample_batch--> float [B, 3, crop, crop] in [0, 1] (random crops and flips)

A run folder holds ``checkpoint.pt`` (:func:`save_checkpoint`, atomic) and ``log.jsonl``;
:class:`StopGuard` turns SIGINT/SIGTERM and a time budget into a clean stop at a step
boundary, so a stopped run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tomllib
import torch
from PIL import Image
from tqdm import tqdm

from neuralcodec.imaging import image_files


def read_config(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """A TOML config; ``extends = "other.toml"`` (relative to it) starts from that config, and
    this file's keys replace the other's table by table (lists, e.g. phases, whole)."""
    path = Path(path).resolve()
    if path in seen:
        raise SystemExit(f"error: {path}: 'extends' loops back to itself")
    raw = tomllib.loads(path.read_text())
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    merged = read_config(path.parent / parent, (*seen, path))
    for section, values in raw.items():
        if isinstance(values, dict) and isinstance(merged.get(section), dict):
            merged[section] = {**merged[section], **values}
        else:
            merged[section] = values
    return merged


def load_images(folder: Path, cache_dir: Path) -> torch.Tensor:
    """All images of ``folder`` as uint8 [N, H, W, 3] (same size required), cached as .npy.

    The cache is named by the files' names and contents, so an edited image is reloaded.
    """
    files = image_files(folder)
    key = hashlib.sha256()
    for path in files:
        key.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    cache = Path(cache_dir) / f"images-{key.hexdigest()[:16]}.npy"
    if cache.exists():
        return torch.from_numpy(np.load(cache))
    arrays = [np.asarray(Image.open(p).convert("RGB")) for p in tqdm(files, desc="loading images")]
    if len({a.shape for a in arrays}) != 1:
        raise SystemExit(f"error: the images of {folder} differ in size; a training folder needs one size")
    stack = np.stack(arrays)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npy")
    np.save(tmp, stack)
    os.replace(tmp, cache)
    return torch.from_numpy(stack)


@dataclass(frozen=True)
class Bucket:
    """Training images of one size from one source folder: uint8 [N, H, W, 3], optional
    per-pixel distortion weights [N, H, W]."""

    source: int
    images: torch.Tensor
    weights: torch.Tensor | None = None


def downscale(images: torch.Tensor, short_side: int) -> torch.Tensor:
    """uint8 [N, H, W, 3] -> the same images with their short side ``short_side`` (Lanczos)."""
    _, h, w, _ = images.shape
    ratio = short_side / min(h, w)
    size = (round(w * ratio), round(h * ratio))
    arrays = [np.asarray(Image.fromarray(a).resize(size, Image.LANCZOS)) for a in images.numpy()]
    return torch.from_numpy(np.stack(arrays))


def build_buckets(sources: list[torch.Tensor], scales: tuple[int, ...], min_size: int) -> list[Bucket]:
    """Each source at its native size and at every scale below it (and at least ``min_size``)."""
    buckets = []
    for index, images in enumerate(sources):
        buckets.append(Bucket(index, images))
        native = min(images.shape[1:3])
        for scale in sorted(scales):
            if min_size <= scale < native:
                buckets.append(Bucket(index, downscale(images, scale)))
    return buckets


def sample_batch(
    buckets: list[Bucket], source_weights: torch.Tensor, batch_size: int, crop: int, gen: torch.Generator
):
    """Random crops with random horizontal flips -> float [B, 3, crop, crop] in [0, 1].

    Each image picks a source folder (by ``source_weights``), then one of its sizes that
    holds the crop, then an image. Where the buckets carry weights (face masking), the same
    crops of the weights come back too, as a pair.

    Where a source's images are all smaller than ``crop`` (128² faces in a 256² phase), the
    whole batch comes from one size of one source instead: the source by ``source_weights``,
    then any of its sizes, and crops of ``crop`` or, from a smaller size, of that size (a
    multiple of 16), as many as make about ``batch_size`` crops' pixels. So a step costs
    about the same, every source and size keeps its share of the batches, and the large
    crops (the hyperprior sees interior context, as in large images) do not cost the small
    faces their place in training.
    """
    fits: dict[int, list[Bucket]] = {}
    for b in buckets:
        if min(b.images.shape[1:3]) >= crop:
            fits.setdefault(b.source, []).append(b)
    if all(int(s) in fits for s in range(len(source_weights)) if source_weights[s] > 0):
        sources = torch.multinomial(source_weights, batch_size, replacement=True, generator=gen)
        return _crops(fits, sources.tolist(), crop, gen)
    source = int(torch.multinomial(source_weights, 1, generator=gen))
    own = [b for b in buckets if b.source == source]
    if not own:
        raise ValueError(f"source {source} has no images")
    bucket = own[int(torch.randint(0, len(own), (1,), generator=gen))]
    size = min(crop, min(bucket.images.shape[1:3]) // 16 * 16)
    count = max(1, round(batch_size * (crop / size) ** 2))
    return _crops({source: [bucket]}, [source] * count, size, gen)


def _crops(fits: dict[int, list[Bucket]], sources: list[int], crop: int, gen: torch.Generator):
    """One random crop (and flip) per entry of ``sources``, from that source's buckets."""
    crops, weight_crops = [], []
    for source in sources:
        bucket = fits[source][int(torch.randint(0, len(fits[source]), (1,), generator=gen))]
        n, h, w, _ = bucket.images.shape
        i = int(torch.randint(0, n, (1,), generator=gen))
        t = int(torch.randint(0, h - crop + 1, (1,), generator=gen))
        left = int(torch.randint(0, w - crop + 1, (1,), generator=gen))
        flip = bool(torch.rand(1, generator=gen) < 0.5)
        c = bucket.images[i, t : t + crop, left : left + crop]
        crops.append(c.flip(1) if flip else c)
        if bucket.weights is not None:
            wc = bucket.weights[i, t : t + crop, left : left + crop]
            weight_crops.append(wc.flip(1) if flip else wc)
    x = torch.stack(crops).permute(0, 3, 1, 2).float().div_(255.0)
    return (x, torch.stack(weight_crops)) if weight_crops else x


class StopGuard:
    """Why a training loop should end now: the time budget ran out, or SIGINT/SIGTERM came.

    Installing it replaces the default signal handlers, so a Ctrl-C ends the loop at a step
    boundary and the caller writes its checkpoint instead of losing the last minutes.
    """

    def __init__(self, max_minutes: float):
        self.start = time.monotonic()
        self.max_seconds = max_minutes * 60
        self.signals: list[int] = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda signum, frame: self.signals.append(signum))

    def minutes(self) -> float:
        return (time.monotonic() - self.start) / 60

    def reason(self) -> str | None:
        if self.signals:
            return "stopped by signal"
        if time.monotonic() - self.start > self.max_seconds:
            return "time budget reached"
        return None


def save_checkpoint(path: Path, **state) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
