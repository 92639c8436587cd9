"""Train the variable-rate face codec on a folder of images.

    python -m tools.train tools/configs/cvae.toml --data ../shared/data/faces/train --run runs/cvae

``[model] architecture`` picks what trains: ``face-hyperprior`` (ours, the default: one
variable-rate model, a gain per quality level) or ``bmshj2018-hyperprior``, CompressAI's
textbook ``ScaleHyperprior(N=channels, M=latent_channels)``. That one is single-rate, so a run
trains one model per lambda, taking turns step by step: the same steps, batches and crops as
ours, which is what "the same compute budget" means in the benchmarks.

Resumable: the run folder holds ``checkpoint.pt`` (written atomically every few minutes and
when a phase ends or the time budget runs out); running the same command again continues
where it stopped. ``--init`` warm-starts from shipped weights so that compute accumulates
across sessions. ``log.jsonl`` in the run folder records rate and distortion.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from neuralcodec.models.hyperprior import GAIN_KEYS, HyperpriorConfig, resample_log_gains
from neuralcodec.models.registry import load_weights_file
from neuralcodec.models.trainable import TrainableFaceHyperprior
from tools.training import (
    Bucket,
    StopGuard,
    build_buckets,
    load_images,
    read_config,
    sample_batch,
    save_checkpoint,
)


@dataclass(frozen=True)
class Phase:
    crop: int
    batch_size: int
    steps: int
    lr: float


ARCHITECTURES = ("face-hyperprior", "bmshj2018-hyperprior")


class PeerSet(nn.Module):
    """CompressAI ``ScaleHyperprior`` models, one per lambda, behind our model's training interface.

    ``forward(x, level)`` needs one level for the whole batch (each model is single-rate);
    :func:`batch_levels` gives every step's batch a single level, in turn.
    """

    def __init__(self, channels: int, latent_channels: int, levels: int):
        super().__init__()
        from compressai.models import ScaleHyperprior

        self.models = nn.ModuleList(ScaleHyperprior(channels, latent_channels) for _ in range(levels))

    @property
    def levels(self) -> int:
        return len(self.models)

    def forward(self, x: torch.Tensor, level: torch.Tensor) -> SimpleNamespace:
        if not bool((level == level[0]).all()):
            raise ValueError("a PeerSet batch must have one level")
        out = self.models[int(level[0])](x)
        return SimpleNamespace(x_hat=out["x_hat"], likelihoods=out["likelihoods"])

    def aux_loss(self) -> torch.Tensor:
        return sum(m.aux_loss() for m in self.models)


@dataclass(frozen=True)
class TrainConfig:
    model: HyperpriorConfig
    lambdas: tuple[float, ...]
    phases: tuple[Phase, ...]
    seed: int
    aux_lr: float
    clip_grad_norm: float
    checkpoint_minutes: float
    log_every: int
    # "Incremental beta" from the seed papers: the rate term's weight ramps linearly from
    # rate_warmup_start to 1 over the first rate_warmup_steps steps (0 = off).
    rate_warmup_steps: int = 0
    rate_warmup_start: float = 0.1
    # Latent channels from new_latent_from on (e.g. the ones widen_state added) pay their rate
    # with a weight that ramps linearly from 0 to 1 over new_latent_rate_steps steps, so that
    # the distortion can put them to use before the rate can pull them to zero (0 = off).
    new_latent_from: int = 0
    new_latent_rate_steps: int = 0
    # Face masking (Toledo & Antonelo 2021): distortion weight of face and background
    # pixels; unequal weights need --masks.
    face_weight: float = 1.0
    background_weight: float = 1.0
    architecture: str = "face-hyperprior"
    # Multi-scale data ([data] table): images larger than a scale are also seen downscaled to
    # it (short side, in pixels); () = native size only. source_weights: the share of each
    # --data folder in the batches (() = in proportion to their image counts).
    scales: tuple[int, ...] = ()
    source_weights: tuple[float, ...] = ()

    @property
    def masked(self) -> bool:
        return self.face_weight != self.background_weight

    @classmethod
    def from_toml(cls, path: Path) -> TrainConfig:
        raw = read_config(path)
        m, t = raw["model"], raw["train"]
        lambdas = tuple(float(v) for v in m["lambdas"])
        architecture = m.get("architecture", "face-hyperprior")
        if architecture not in ARCHITECTURES:
            raise SystemExit(
                f"error: {path}: unknown architecture {architecture!r}; known: {', '.join(ARCHITECTURES)}"
            )
        return cls(
            model=HyperpriorConfig(
                m["channels"],
                m["latent_channels"],
                levels=len(lambdas),
                hyper_channels=m.get("hyper_channels"),
            ),
            lambdas=lambdas,
            phases=tuple(Phase(**p) for p in t["phases"]),
            seed=t["seed"],
            aux_lr=t["aux_lr"],
            clip_grad_norm=t["clip_grad_norm"],
            checkpoint_minutes=t["checkpoint_minutes"],
            log_every=t["log_every"],
            rate_warmup_steps=t.get("rate_warmup_steps", 0),
            rate_warmup_start=t.get("rate_warmup_start", 0.1),
            new_latent_from=t.get("new_latent_from", 0),
            new_latent_rate_steps=t.get("new_latent_rate_steps", 0),
            face_weight=t.get("face_weight", 1.0),
            background_weight=t.get("background_weight", 1.0),
            architecture=architecture,
            scales=tuple(int(v) for v in raw.get("data", {}).get("scales", ())),
            source_weights=tuple(float(v) for v in raw.get("data", {}).get("source_weights", ())),
        )

    def build_model(self) -> nn.Module:
        if self.architecture == "bmshj2018-hyperprior":
            return PeerSet(self.model.channels, self.model.latent_channels, self.model.levels)
        return TrainableFaceHyperprior(self.model)

    def batch_levels(self, step: int, batch_size: int, gen: torch.Generator) -> torch.Tensor:
        """The quality level of each image of this step's batch."""
        if self.architecture == "bmshj2018-hyperprior":
            return torch.full((batch_size,), step % self.model.levels, dtype=torch.long)
        return torch.randint(0, len(self.lambdas), (batch_size,), generator=gen)

    def rate_weight(self, step: int) -> float:
        """Weight of the rate term at ``step``: 1 after the warm-up."""
        if step >= self.rate_warmup_steps:
            return 1.0
        return self.rate_warmup_start + (1.0 - self.rate_warmup_start) * step / self.rate_warmup_steps

    def latent_rate_weights(self, step: int) -> torch.Tensor | None:
        """Per-latent-channel weight of the rate term at ``step`` (None: all 1)."""
        if not self.new_latent_rate_steps or step >= self.new_latent_rate_steps:
            return None
        weights = torch.ones(self.model.latent_channels)
        weights[self.new_latent_from :] = step / self.new_latent_rate_steps
        return weights

    @property
    def total_steps(self) -> int:
        return sum(p.steps for p in self.phases)

    def phase_at(self, step: int) -> Phase:
        end = 0
        for phase in self.phases:
            end += phase.steps
            if step < end:
                return phase
        return self.phases[-1]


def pixel_weights(folder: Path, masks: Path, face: float, background: float) -> torch.Tensor:
    """Per-pixel distortion weights [N, H, W] of the images of ``folder`` (load_images order)."""
    from neuralcodec.imaging import image_files
    from tools.mask_cache import load_masks

    by_name = load_masks(folder, masks)
    rows = [torch.from_numpy(by_name[p.name].astype(np.float32)) for p in image_files(folder)]
    return background + (face - background) * torch.stack(rows)


def rd_loss(
    model: TrainableFaceHyperprior,
    x: torch.Tensor,
    level: torch.Tensor,
    lambdas: torch.Tensor,
    rate_weight: float = 1.0,
    weights: torch.Tensor | None = None,
    latent_rate_weights: torch.Tensor | None = None,
):
    """Per-image (lambda * 255^2 * MSE + w * bpp) / sqrt(lambda), averaged; also returns bpp and MSE.

    With per-pixel ``weights`` [B, H, W] the MSE is the weighted mean (face masking). With
    ``latent_rate_weights`` [M] each latent channel's bits count that much in the loss (the
    returned bpp counts them all).
    """
    out = model(x, level)
    pixels = x.shape[2] * x.shape[3]
    channel_bits = {k: -torch.log2(lk).flatten(2).sum(2) for k, lk in out.likelihoods.items()}
    bpp = sum(b.sum(1) for b in channel_bits.values()) / pixels
    loss_bpp = bpp
    if latent_rate_weights is not None:
        y_bits = channel_bits["y"] * latent_rate_weights.to(x.device)
        loss_bpp = (y_bits.sum(1) + channel_bits["z"].sum(1)) / pixels
    err = (out.x_hat - x).pow(2)
    if weights is None:
        mse = err.flatten(1).mean(1)
    else:
        mse = (err * weights[:, None]).flatten(1).sum(1) / (3 * weights.flatten(1).sum(1))
    lam = lambdas[level]
    loss = ((lam * 255.0**2 * mse + rate_weight * loss_bpp) / lam.sqrt()).mean()
    return loss, bpp, mse


def warm_start_weights(path: Path, positions: list[float] | None, levels: int) -> dict:
    """The state dict of a weights file, its quality levels resampled to this config's levels
    (:func:`widen_state` then grows it where the config is wider)."""
    state = dict(load_weights_file(path)["state_dict"])
    have = state[GAIN_KEYS[0]].shape[0]
    if positions is None:
        if have != levels:
            raise SystemExit(
                f"error: {path} has {have} levels, the config {levels}: "
                f"pass --init-levels with {levels} positions"
            )
        return state
    if len(positions) != levels:
        raise SystemExit(f"error: --init-levels has {len(positions)} positions, the config {levels} levels")
    state.update({k: resample_log_gains(state[k], positions) for k in GAIN_KEYS})
    return state


#: Weight of new latent channels in the synthesis after widening, relative to a fresh init.
NEW_LATENT_SYNTHESIS_SCALE = 0.1

#: The parts of a face hyperprior that widen_state grows (the entropy models' tables do not).
WIDENED_PREFIXES = ("analysis.", "synthesis.", "hyper_analysis.", "hyper_synthesis.", "gains.")


def _widen_tensor(key: str, old: torch.Tensor, new: torch.Tensor, transposed: bool) -> torch.Tensor:
    """``old`` in the leading block of ``new``'s fresh values; new inputs of old outputs zeroed."""
    if old.dim() != new.dim() or any(o > n for o, n in zip(old.shape, new.shape, strict=True)):
        raise SystemExit(f"error: cannot widen {key} from {tuple(old.shape)} to {tuple(new.shape)}")
    value = new.clone()
    if old.dim() == 4:
        out_dim, in_dim = (1, 0) if transposed else (0, 1)
        block = [slice(None)] * 4
        block[out_dim] = slice(0, old.shape[out_dim])
        block[in_dim] = slice(old.shape[in_dim], None)
        value[tuple(block)] = 0
    value[tuple(slice(0, n) for n in old.shape)] = old
    return value


def widen_state(state: dict, model: TrainableFaceHyperprior) -> dict:
    """``state`` (a narrower model of the same kind) grown to ``model``'s shapes.

    Wider feature maps (N) keep the function exactly: each widened tensor keeps the old
    values in its leading block, the rest comes from ``model``'s fresh initialisation, except
    the weights from new input channels to old output channels, which are zero, so the old
    channels compute what they did and the new ones start to contribute as those weights
    train. GDN's fresh cross terms are already zero (its gamma starts diagonal).

    More latent channels (M) keep the old channels' rate and nearly the reconstruction: the
    new channels enter the hyper analysis through zero weights, take the mean gain of the
    old channels at every level, and the hyperprior predicts them with mean 0 and the old
    channels' mean scale bias. They enter the synthesis through small weights
    (:data:`NEW_LATENT_SYNTHESIS_SCALE` of a fresh initialisation), not zero ones: with zero
    weights the distortion gives them no gradient while the rate pulls them to 0, and they
    die (every new channel of a v2 -> M=256 run quantised to 0 at every level after 2,000
    steps).
    """
    fresh = model.state_dict()
    grown = dict(state)
    transposed = {f"{name}.weight" for name, m in model.named_modules() if isinstance(m, nn.ConvTranspose2d)}
    head = f"hyper_synthesis.layers.{len(model.hyper_synthesis.layers) - 1}"
    for key, new in fresh.items():
        old = state.get(key)
        if old is None or old.shape == new.shape or not key.startswith(WIDENED_PREFIXES):
            continue
        if key in GAIN_KEYS:  # [levels, M]
            if old.shape[0] != new.shape[0]:
                raise SystemExit(f"error: cannot widen {key} from {tuple(old.shape)} to {tuple(new.shape)}")
            extra = old.mean(1, keepdim=True).expand(-1, new.shape[1] - old.shape[1])
            grown[key] = torch.cat([old, extra], 1)
        elif key.startswith(head):  # output rows: M means, then M scales
            m_old, m_new = old.shape[0] // 2, new.shape[0] // 2
            value = torch.zeros_like(new)
            value[:m_old] = old[:m_old]
            value[m_new : m_new + m_old] = old[m_old:]
            if key.endswith(".bias"):
                value[m_new + m_old :] = old[m_old:].mean()
            grown[key] = value
        else:
            grown[key] = _widen_tensor(key, old, new, key in transposed)
    first = "synthesis.0.weight"  # ConvTranspose2d: [M, N, k, k]
    m_old = state[first].shape[0]
    if grown[first].shape[0] > m_old:
        grown[first][m_old:] = fresh[first][m_old:] * NEW_LATENT_SYNTHESIS_SCALE
        # A fresh analysis row is ~30x smaller than a trained one, so the new channels would
        # round to 0 at every level from the start: give each new row the old rows' mean norm.
        last = f"analysis.{len(model.analysis) - 1}.weight"  # Conv2d: [M, N, k, k]
        rows = grown[last]
        old_norm = rows[:m_old].flatten(1).norm(dim=1).mean()
        new_norm = rows[m_old:].flatten(1).norm(dim=1, keepdim=True)
        rows[m_old:] = (rows[m_old:].flatten(1) * old_norm / new_norm).view_as(rows[m_old:])
    return grown


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", type=Path, help="TOML config (see tools/configs/)")
    p.add_argument(
        "--data",
        type=Path,
        required=True,
        action="append",
        help="folder of training images (one size per folder); repeat for several sources",
    )
    p.add_argument("--run", type=Path, required=True, help="run folder: checkpoint.pt, log.jsonl")
    p.add_argument("--init", type=Path, help="warm-start model weights from this weights file")
    p.add_argument(
        "--init-levels",
        type=lambda v: [float(x) for x in v.split(",")],
        metavar="POSITIONS",
        help="with --init: comma-separated positions on the init weights' level axis that "
        "become this config's levels (fractions interpolate, outside extrapolates)",
    )
    p.add_argument(
        "--masks",
        type=Path,
        help="face masks for masked training: a tools/make_masks.py cache "
        "folder or a folder of mask images (needed when face_weight != background_weight)",
    )
    p.add_argument(
        "--max-minutes", type=float, default=math.inf, help="stop (with a checkpoint) after this long"
    )
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--cache-dir", type=Path, default=Path("cache"), help="where decoded images are cached")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = TrainConfig.from_toml(args.config)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    args.run.mkdir(parents=True, exist_ok=True)
    ckpt_path = args.run / "checkpoint.pt"

    torch.manual_seed(cfg.seed)
    model = cfg.build_model().to(device)
    aux_params = [p for n, p in model.named_parameters() if n.endswith(".quantiles")]
    main_params = [p for n, p in model.named_parameters() if not n.endswith(".quantiles")]
    optimizer = torch.optim.Adam(main_params, lr=cfg.phases[0].lr)
    aux_optimizer = torch.optim.Adam(aux_params, lr=cfg.aux_lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    step = 0

    if ckpt_path.exists():
        state = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        if "optimizer" in state:
            optimizer.load_state_dict(state["optimizer"])
            aux_optimizer.load_state_dict(state["aux_optimizer"])
        else:  # a committed model-only checkpoint (tools/checkpoints/): Adam starts afresh
            print("checkpoint holds no optimizer state: Adam restarts", file=sys.stderr)
        gen.set_state(state["generator"])
        step = state["step"]
        print(f"resumed from {ckpt_path} at step {step}", file=sys.stderr)
    elif args.init:
        if cfg.architecture != "face-hyperprior":
            raise SystemExit("error: --init warm-starts face-hyperprior models only")
        model.load_state_dict(
            widen_state(warm_start_weights(args.init, args.init_levels, cfg.model.levels), model)
        )
        print(f"warm start from {args.init}", file=sys.stderr)

    sources = [load_images(folder, args.cache_dir) for folder in args.data]
    if cfg.masked:
        if args.masks is None:
            raise SystemExit("error: the config weights face and background differently: pass --masks")
        if len(args.data) != 1 or cfg.scales:
            raise SystemExit("error: face masking trains on one --data folder at its native size")
        weights = pixel_weights(args.data[0], args.masks, cfg.face_weight, cfg.background_weight)
        if weights.shape != sources[0].shape[:3]:
            raise SystemExit(
                f"error: masks {tuple(weights.shape)} do not match the images {tuple(sources[0].shape[:3])}"
            )
        buckets = [Bucket(0, sources[0], weights)]
    else:
        buckets = build_buckets(sources, cfg.scales, min(p.crop for p in cfg.phases))
    if cfg.source_weights and len(cfg.source_weights) != len(sources):
        raise SystemExit(
            f"error: [data] source_weights has {len(cfg.source_weights)} entries "
            f"for {len(sources)} --data folders"
        )
    source_weights = torch.tensor(cfg.source_weights or [float(len(s)) for s in sources])
    lambdas = torch.tensor(cfg.lambdas, device=device)
    model.train()

    def checkpoint() -> None:
        save_checkpoint(
            ckpt_path,
            model=model.state_dict(),
            optimizer=optimizer.state_dict(),
            aux_optimizer=aux_optimizer.state_dict(),
            generator=gen.get_state(),
            step=step,
            config=str(args.config),
        )

    guard = StopGuard(args.max_minutes)
    last_ckpt = time.monotonic()
    window: list[tuple[float, float]] = []
    with (
        open(args.run / "log.jsonl", "a") as log,
        tqdm(total=cfg.total_steps, initial=step, desc="train", dynamic_ncols=True) as bar,
    ):
        while step < cfg.total_steps:
            phase = cfg.phase_at(step)
            for group in optimizer.param_groups:
                group["lr"] = phase.lr
            batch = sample_batch(buckets, source_weights, phase.batch_size, phase.crop, gen)
            x, w = batch if cfg.masked else (batch, None)
            x, w = x.to(device), None if w is None else w.to(device)
            level = cfg.batch_levels(step, x.shape[0], gen).to(device)

            loss, bpp, mse = rd_loss(
                model, x, level, lambdas, cfg.rate_weight(step), w, cfg.latent_rate_weights(step)
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(main_params, cfg.clip_grad_norm)
            optimizer.step()
            aux = model.aux_loss()
            aux_optimizer.zero_grad(set_to_none=True)
            aux.backward()
            aux_optimizer.step()
            step += 1
            bar.update(1)

            window.append((bpp.mean().item(), mse.mean().item()))
            if step % cfg.log_every == 0:
                mean_bpp = float(np.mean([b for b, _ in window]))
                psnr = float(np.mean([10 * math.log10(1 / max(m, 1e-10)) for _, m in window]))
                window.clear()
                bar.set_postfix(bpp=f"{mean_bpp:.3f}", psnr=f"{psnr:.2f}", loss=f"{loss.item():.3f}")
                record = {
                    "step": step,
                    "crop": phase.crop,
                    "lr": phase.lr,
                    "loss": loss.item(),
                    "bpp": mean_bpp,
                    "psnr": psnr,
                    "aux": aux.item(),
                    "minutes": guard.minutes(),
                }
                log.write(json.dumps(record) + "\n")
                log.flush()
            now = time.monotonic()
            phase_ended = cfg.phase_at(step) is not phase
            if phase_ended or now - last_ckpt > cfg.checkpoint_minutes * 60:
                checkpoint()
                last_ckpt = now
            if why := guard.reason():
                print(f"{why} at step {step}", file=sys.stderr)
                break
    checkpoint()
    return 0


if __name__ == "__main__":
    sys.exit(main())
