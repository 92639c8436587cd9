"""Turn a training checkpoint into a shipped weights file.

    python -m tools.export runs/cvae/checkpoint.pt tools/configs/cvae.toml \
        -o neuralcodec/weights/face-hyperprior-v2.pt --model-id face-hyperprior-v2

The integer CDF tables are computed here, once, and stored with the weights: decoders load
them as they are and never recompute them from floating-point densities, so every machine
codes with identical tables.

``--level-positions`` chooses the shipped quality levels as positions on the trained level
axis (0 = the first trained lambda): fractional positions interpolate the log-gains of the two
nearest trained levels, positions outside the trained range extrapolate from the end pair.
By default the shipped levels are the trained ones.

``--half`` stores the parameters (not the buffers, e.g. the scale table) as float16 (half
the file; the shipped set must stay small). The model is rounded to float16 *before* the
CDF tables are computed, and loading casts back to float32 exactly, so encoder and decoder
see the same values.

A ``bmshj2018-hyperprior`` run (the benchmark's learned peer, see tools/train.py) exports to a
folder instead, one CompressAI ``ScaleHyperprior`` state dict per lambda, lowest rate first,
which is what ``nfc bench --peer-weights DIR`` reads:

    python -m tools.export runs/peer/checkpoint.pt tools/configs/peer.toml -o runs/peer-weights \
        --model-id peer
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import asdict, replace
from pathlib import Path

import torch

from neuralcodec.models.hyperprior import GAIN_KEYS, resample_log_gains
from neuralcodec.models.trainable import TrainableFaceHyperprior
from tools.train import TrainConfig


def export_peer(cfg: TrainConfig, state: dict, folder: Path, model_id: str) -> None:
    """One ``{model_id}-q{i}.pt`` per trained lambda in ``folder`` (CompressAI state dicts)."""
    folder.mkdir(parents=True, exist_ok=True)
    for level, lam in enumerate(cfg.lambdas):
        prefix = f"models.{level}."
        weights = {k[len(prefix) :]: v for k, v in state["model"].items() if k.startswith(prefix)}
        payload = {
            "model_id": model_id,
            "architecture": cfg.architecture,
            "lambda": lam,
            "trained_steps": int(state["step"]),
            "state_dict": weights,
        }
        out = folder / f"{model_id}-q{level + 1:02d}.pt"
        tmp = out.with_suffix(".tmp")
        torch.save(payload, tmp)
        os.replace(tmp, out)
        print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, lambda {lam}, step {state['step']})")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", type=Path)
    p.add_argument("config", type=Path, help="the TOML config the checkpoint was trained with")
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--model-id", required=True, help="stable id, e.g. face-hyperprior-v2")
    p.add_argument(
        "--level-positions",
        type=lambda v: [float(x) for x in v.split(",")],
        help="comma-separated positions on the trained level axis, lowest quality first",
    )
    p.add_argument("--half", action="store_true", help="store parameters as float16 (see above)")
    args = p.parse_args(argv)

    cfg = TrainConfig.from_toml(args.config)
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    if cfg.architecture == "bmshj2018-hyperprior":
        if args.level_positions:
            p.error("--level-positions applies to face-hyperprior models only")
        export_peer(cfg, state, args.output, args.model_id)
        return 0
    weights = state["model"]
    positions = args.level_positions or [float(i) for i in range(cfg.model.levels)]
    if positions != sorted(positions) or len(set(positions)) != len(positions):
        p.error("--level-positions must be strictly increasing")
    weights.update({k: resample_log_gains(weights[k], positions) for k in GAIN_KEYS})
    model = TrainableFaceHyperprior(replace(cfg.model, levels=len(positions)))
    model.load_state_dict(weights)
    model.eval()
    if args.half:
        with torch.no_grad():
            for param in model.parameters():
                param.copy_(param.half().float())
    model.update_tables()
    state_dict = model.state_dict()
    if args.half:
        params = {name for name, _ in model.named_parameters()}
        state_dict = {k: v.half() if k in params else v for k, v in state_dict.items()}
    payload = {
        "model_id": args.model_id,
        "config": asdict(model.config),
        "lambdas": list(cfg.lambdas),
        "level_positions": positions,
        "trained_steps": int(state["step"]),
        "state_dict": {k: v.contiguous() for k, v in state_dict.items()},
    }
    tmp = args.output.with_suffix(".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, args.output)
    size = args.output.stat().st_size
    print(f"wrote {args.output} ({size / 1e6:.2f} MB, step {state['step']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
