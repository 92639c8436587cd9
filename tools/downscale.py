"""Write a folder's images downscaled to a given short side (Lanczos), as PNG: test sets at
other sizes for ``nfc bench``.

    python -m tools.downscale ../shared/data/faces/hires/test --short-side 256 -o runs/hires-test-256

Uses the same resampling as multi-scale training (:func:`tools.training.downscale`).
Images already at or below the size are refused, so nothing is upscaled.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from neuralcodec.files import write_atomic
from neuralcodec.imaging import encode_image_file, image_files
from tools.training import downscale


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", type=Path, help="folder of images")
    p.add_argument("--short-side", type=int, required=True, help="short side of the outputs, in pixels")
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder (created)")
    args = p.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    for path in tqdm(image_files(args.data), desc="downscaling"):
        rgb = np.array(Image.open(path).convert("RGB"))  # writable: torch wraps it
        if min(rgb.shape[:2]) <= args.short_side:
            raise SystemExit(
                f"error: {path} is {rgb.shape[1]}x{rgb.shape[0]}, not larger than {args.short_side}"
            )
        small = downscale(torch.from_numpy(rgb[None]), args.short_side)[0].numpy()
        out = args.output / f"{path.stem}.png"
        write_atomic(out, encode_image_file(Image.fromarray(small), out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
