"""Turn a training checkpoint into a shipped weights file.

    python tools/export.py runs/cvae/checkpoint.pt tools/configs/cvae.toml \
        -o neuralcodec/weights/face-hyperprior-v1.pt --model-id face-hyperprior-v1

The integer CDF tables are computed here, once, and stored with the weights: decoders load
them as they are and never recompute them from floating-point densities, so every machine
codes with identical tables.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import asdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train import TrainConfig  # noqa: E402

from neuralcodec.models.hyperprior import FaceHyperprior  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", type=Path)
    p.add_argument("config", type=Path, help="the TOML config the checkpoint was trained with")
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--model-id", required=True, help="stable id, e.g. face-hyperprior-v1")
    args = p.parse_args(argv)

    cfg = TrainConfig.from_toml(args.config)
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    model = FaceHyperprior(cfg.model)
    model.load_state_dict(state["model"])
    model.eval()
    model.update_tables()
    payload = {
        "model_id": args.model_id,
        "config": asdict(cfg.model),
        "lambdas": list(cfg.lambdas),
        "trained_steps": int(state["step"]),
        "state_dict": {k: v.contiguous() for k, v in model.state_dict().items()},
    }
    tmp = args.output.with_suffix(".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, args.output)
    size = args.output.stat().st_size
    print(f"wrote {args.output} ({size / 1e6:.2f} MB, step {state['step']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
