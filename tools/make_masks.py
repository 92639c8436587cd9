"""Detect the face of every image of a data folder and cache the boxes, for masked training
and face-region metrics.

    python -m tools.make_masks ../shared/data/faces/train -o masks/

Writes ``masks/faces-<hash>.npz`` (names, sizes, boxes; the hash covers the file list and
the detector settings, so a changed folder or detector gets a new cache). Load it with
``tools.mask_cache.load_masks(DATA, "masks/")``, which also accepts a folder of
user-supplied mask images. Prints the detection rate.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tools import mask_cache


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data", type=Path, help="folder of images")
    parser.add_argument("-o", "--output", type=Path, required=True, help="cache folder")
    parser.add_argument("--force", action="store_true", help="detect again even if the cache exists")
    parser.add_argument(
        "--nice", type=int, default=15, help="lower this process's priority by N (default 15)"
    )
    args = parser.parse_args(argv)
    os.nice(args.nice)
    path = mask_cache.cache_path(args.data, args.output)
    if args.force or not path.exists():
        path = mask_cache.write_mask_cache(
            args.data, args.output, progress=lambda it: tqdm(it, desc="detecting faces")
        )
    boxes = mask_cache.load_boxes(args.data, args.output)
    found = sum(b is not None for b in boxes.values())
    print(f"{path}: faces found in {found} of {len(boxes)} images ({100 * found / max(1, len(boxes)):.1f} %)")
    sizes = np.array([(b.w, b.h) for b in boxes.values() if b is not None])
    if len(sizes):
        print(f"mean face box {sizes[:, 0].mean():.1f} x {sizes[:, 1].mean():.1f} px")
    return 0


if __name__ == "__main__":
    sys.exit(main())
