"""One thread or two per coding call, at several sizes: the numbers behind docs/format.md, "Threads".

    python bench/bench_threads.py ../shared/data/faces/hires/train/canada_003f.png --sizes 128 512

Resizes the picture to each size (Lanczos), then, with ``neuralcodec.codec.set_threads(1)`` and
``(2)``, prints the median milliseconds of ``decompress`` and ``compress(quality=6)`` over
200 calls at 128² (fewer as the pixels grow, at least 10) after a tenth as many warm-up calls.
Run it on an idle machine and again beside other work (a busy loop, a training run): which
count wins depends on whether the other cores are free, not on the image size.
"""

from __future__ import annotations

import argparse
from functools import partial

import numpy as np
import torch
from PIL import Image

import neuralcodec
from neuralcodec import codec
from neuralcodec.bench.speed import median_ms

QUALITY = 6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", help="a picture to resize to each size (a face)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512])
    args = parser.parse_args()
    torch.set_num_threads(2)
    source = Image.open(args.image).convert("RGB")
    try:
        for size in args.sizes:
            rgb = np.asarray(source.resize((size, size), Image.LANCZOS))
            data = neuralcodec.compress(rgb, quality=QUALITY)
            rounds = max(10, int(200 * (128 / size) ** 2))
            warmup = max(3, rounds // 10)
            for threads in (1, 2):
                codec.set_threads(threads)
                decode = median_ms(partial(neuralcodec.decompress, data), rounds, warmup)
                encode = median_ms(partial(neuralcodec.compress, rgb, quality=QUALITY), rounds, warmup)
                print(f"{size}x{size}  {threads} threads  decode {decode:8.2f} ms  encode {encode:8.2f} ms")
    finally:
        codec.set_threads(None)


if __name__ == "__main__":
    main()
