"""Bits of large images coded whole against the same images cut into tiles coded apart.

    python -m tools.tile_gap ../shared/data/faces/hires/train --limit 4 --tile 128 \
        --run v3long=runs/cvae-v3-long:tools/configs/cvae-v3-long.toml

A model trained on T² crops has only seen a hyperprior grid of (T/64)² positions, nearly all
of them at the border. If coding an image whole costs more bits than coding its T² tiles
one by one (each a whole .nfc file, headers included), the entropy model has not learnt the
context it meets inside large images: train on larger crops. For each run (NAME=RUN_FOLDER:
CONFIG, loaded as tools/eval_study does) and level, prints mean bpp and PSNR both ways and
the whole image's extra bits. Image sides must be multiples of the tile. Use training
images: this is a diagnosis for choosing a recipe, and test folders are not for tuning.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from neuralcodec import imaging
from neuralcodec.bench.dataset import dataset, load_rgb
from tools.eval_roi import psnr
from tools.eval_study import Run, run_arg


def tiled(run: Run, rgb: np.ndarray, level: int, tile: int) -> tuple[int, np.ndarray]:
    """(bytes of all tiles' files, the tiles' decodings put back together)."""
    height, width = rgb.shape[:2]
    out, total = np.zeros_like(rgb), 0
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            n, decoded = run.code(np.ascontiguousarray(rgb[top : top + tile, left : left + tile]), level)
            total += n
            out[top : top + tile, left : left + tile] = decoded
    return total, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__.split("\n\n", 2)[2])
    parser.add_argument("data", type=Path, help="folder of images (training images)")
    parser.add_argument("--run", type=run_arg, action="append", required=True, help="NAME=RUN_FOLDER:CONFIG")
    parser.add_argument("--tile", type=int, default=128, help="tile side in pixels (default 128)")
    parser.add_argument("--limit", type=int, default=4, help="first N images, sorted by name (default 4)")
    parser.add_argument("--levels", default="4,7,10", help="comma-separated levels, 1-based (default 4,7,10)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    files = imaging.image_files(args.data, imaging.LOSSLESS_SUFFIXES)
    images = [np.asarray(load_rgb(Path(i.path))) for i in dataset(files, args.limit)]
    for rgb in images:
        if rgb.shape[0] % args.tile or rgb.shape[1] % args.tile:
            parser.error(f"an image is {rgb.shape[1]}x{rgb.shape[0]}, not a multiple of the {args.tile} tile")
    levels = [int(v) for v in args.levels.split(",")]
    print(f"{len(images)} images of {args.data}, {args.tile}² tiles")
    print("| run | level | whole: bpp | PSNR | tiles: bpp | PSNR | whole's extra bits |")
    print("|---|---|---|---|---|---|---|")
    for name, folder, config in args.run:
        run = Run(name, folder, config)
        for level in levels:
            if not 1 <= level <= run.levels:
                parser.error(f"{name} has levels 1..{run.levels}, not {level}")
            whole_bits = tile_bits = 0
            whole_psnr, tile_psnr = [], []
            for rgb in images:
                n, decoded = run.code(rgb, level - 1)
                whole_bits += 8 * n
                whole_psnr.append(psnr(rgb, decoded))
                n, decoded = tiled(run, rgb, level - 1, args.tile)
                tile_bits += 8 * n
                tile_psnr.append(psnr(rgb, decoded))
            pixels = sum(rgb.shape[0] * rgb.shape[1] for rgb in images)
            print(
                f"| {name} | {level} | {whole_bits / pixels:.3f} | {np.mean(whole_psnr):.2f} | "
                f"{tile_bits / pixels:.3f} | {np.mean(tile_psnr):.2f} | "
                f"{100 * (whole_bits / tile_bits - 1):+.1f} % |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
