"""Encode and decode time of training runs next to the shipped v2 model, in one process.

    python -m tools.time_runs ../shared/data/faces/hires/train/canada_003f.png \
        --run v3long=runs/cvae-v3-long:tools/configs/cvae-v3-long.toml --sizes 128 512

Resizes the picture to each size (Lanczos) and prints, for ``face-hyperprior-v2`` and every
run (a tools/train.py checkpoint, loaded as tools/eval_study does), the median milliseconds of
the model's ``decompress`` and ``compress`` at one level (index ``--level``), over 100 calls at
128² (fewer as the pixels grow, at least 10) after a tenth as many warm-up calls. This is the
decode budget of the Model v3 issue (128² ≤ 20 ms, 512² ≤ 250 ms); run it on a quiet machine.
"""

from __future__ import annotations

import argparse
from functools import partial

import numpy as np
import torch
from PIL import Image

from neuralcodec import imaging
from neuralcodec.bench.speed import median_ms
from neuralcodec.models.registry import load_model
from neuralcodec.transforms.networks import STRIDE
from tools.eval_study import Run, run_arg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", help="a picture to resize to each size (a face)")
    parser.add_argument("--run", type=run_arg, action="append", default=[], help="NAME=RUN_FOLDER:CONFIG")
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--level", type=int, default=5, help="level index (default 5: quality 6)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    models = {"v2": load_model("face-hyperprior-v2")}
    for name, folder, config in args.run:
        models[name] = Run(name, folder, config).model
    source = Image.open(args.image).convert("RGB")
    print(f"{args.threads} thread(s), level index {args.level}")
    with torch.inference_mode():
        for size in args.sizes:
            x = imaging.to_padded_tensor(np.asarray(source.resize((size, size), Image.LANCZOS)), STRIDE)
            rounds = max(10, int(100 * (128 / size) ** 2))
            warmup = max(3, rounds // 10)
            for name, model in models.items():
                encoded = model.compress(x, args.level)
                decode = median_ms(partial(model.decompress, encoded, args.level), rounds, warmup)
                encode = median_ms(partial(model.compress, x, args.level), rounds, warmup)
                print(f"{size}x{size}  {name:10s} decode {decode:8.1f} ms  encode {encode:8.1f} ms")


if __name__ == "__main__":
    main()
