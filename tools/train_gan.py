"""Fine-tune a realistic (GAN) decoder for a shipped CVAE model; the bitstream stays the same.

    python -m tools.train_gan tools/configs/gan.toml --data ../shared/data/faces/train --run runs/gan
    python -m tools.train_gan tools/configs/gan.toml --run runs/gan --export neuralcodec/weights/<id>.pt

Only the synthesis transform (the decoder) trains; the encoder, hyperprior, gains and CDF
tables are the base model's, frozen. A file encoded for the base model therefore decodes
with either decoder, and the encoder never has to know which one the reader will use.

Recipe (after HiFiC, Mentzer et al. 2020, without its LPIPS term, whose weights cannot be
downloaded here): generator loss = distortion_weight * MSE(0..255) + l1_weight * L1(0..255)
+ gan_weight * non-saturating GAN loss; the discriminator is DCGAN-style (strided 4x4
convolutions, LeakyReLU; spectral norm instead of batch norm) and sees the image together
with the decoded latent, upsampled. Against the collapse the seed reports (discriminator
overpowering the generator) the discriminator skips its step while its loss is below
``d_loss_floor``; both losses and D's mean outputs go to ``log.jsonl``.

Resumable like tools/train.py: ``checkpoint.pt`` every few minutes and on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import tomllib
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from neuralcodec.models.hyperprior import FaceHyperprior
from neuralcodec.models.registry import build_model, load_weights_file
from tools.training import Bucket, StopGuard, load_images, sample_batch, save_checkpoint


@dataclass(frozen=True)
class GanConfig:
    base: str
    levels: tuple[int, ...]
    steps: int
    batch_size: int
    lr_generator: float
    lr_discriminator: float
    distortion_weight: float
    l1_weight: float
    gan_weight: float
    d_loss_floor: float
    condition_channels: int
    seed: int
    checkpoint_minutes: float
    log_every: int

    @classmethod
    def from_toml(cls, path: Path) -> GanConfig:
        raw = tomllib.loads(path.read_text())["gan"]
        raw["levels"] = tuple(int(v) for v in raw["levels"])
        return cls(**raw)


class Discriminator(nn.Module):
    """DCGAN-style patch discriminator conditioned on the decoded latent.

    The latent [B, M, H/16, W/16] is squeezed to a few channels by a 1x1 convolution and
    upsampled to the image size (nearest), then concatenated with the image. Four strided
    4x4 convolutions take a 128x128 face to an 8x8 map of real/fake logits.
    """

    def __init__(self, latent_channels: int, condition_channels: int = 12, width: int = 64):
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        self.condition = nn.Sequential(
            sn(nn.Conv2d(latent_channels, condition_channels, 1)), nn.LeakyReLU(0.2)
        )
        chans = [3 + condition_channels, width, width * 2, width * 4, width * 4]
        layers: list[nn.Module] = []
        for cin, cout in zip(chans[:-1], chans[1:], strict=True):
            layers += [sn(nn.Conv2d(cin, cout, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
        layers.append(sn(nn.Conv2d(chans[-1], 1, 3, padding=1)))
        self.body = nn.Sequential(*layers)

    def forward(self, image: Tensor, latent: Tensor) -> Tensor:
        cond = F.interpolate(self.condition(latent), size=image.shape[2:], mode="nearest")
        return self.body(torch.cat([image * 2 - 1, cond], dim=1))


@torch.no_grad()
def decoded_latents(model: FaceHyperprior, x: Tensor, level: Tensor) -> Tensor:
    """The synthesis input the real decoder sees: hard-rounded y around the predicted mean."""
    y = model.analysis(x) * model.gains.gain(level)
    z = model.hyper_analysis(y) * model.hyper_gains.gain(level)
    medians = model.hyper_prior.medians.to(x.device).reshape(1, -1, 1, 1)
    z_hat = torch.round(z - medians) + medians
    mean, _ = model.hyper_synthesis(z_hat * model.hyper_gains.inverse_gain(level))
    y_hat = torch.round(y - mean) + mean
    return y_hat * model.gains.inverse_gain(level)


def generator_losses(cfg: GanConfig, x: Tensor, x_hat: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
    mse = (x_hat - x).pow(2).mean() * 255.0**2
    l1 = (x_hat - x).abs().mean() * 255.0
    adv = F.softplus(-fake_logits).mean()
    total = cfg.distortion_weight * mse + cfg.l1_weight * l1 + cfg.gan_weight * adv
    return {"total": total, "mse": mse, "l1": l1, "adv": adv}


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def export(cfg: GanConfig, run: Path, output: Path, model_id: str) -> None:
    state = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)
    base = Path(cfg.base)
    payload = {
        "model_id": model_id,
        "base_model_id": load_weights_file(base)["model_id"],
        "base_sha256": hashlib.sha256(base.read_bytes()).hexdigest(),
        "synthesis": state["generator"],
        "gan": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()},
        "steps": state["step"],
    }
    tmp = output.with_suffix(".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, output)
    print(f"wrote {output} ({output.stat().st_size / 1e6:.2f} MB, step {state['step']})", file=sys.stderr)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", type=Path, help="TOML config (see tools/configs/gan.toml)")
    p.add_argument("--data", type=Path, help="folder of 128x128 training faces (required to train)")
    p.add_argument("--run", type=Path, required=True, help="run folder: checkpoint.pt, log.jsonl")
    p.add_argument(
        "--export", type=Path, metavar="OUT", help="write the decoder weights of the run to OUT and exit"
    )
    p.add_argument("--model-id", default="face-hyperprior-v2-gan", help="stable id written by --export")
    p.add_argument(
        "--max-minutes", type=float, default=math.inf, help="stop (with a checkpoint) after this long"
    )
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--cache-dir", type=Path, default=Path("cache"), help="where decoded images are cached")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = GanConfig.from_toml(args.config)
    if args.export:
        export(cfg, args.run, args.export, args.model_id)
        return 0
    if args.data is None:
        raise SystemExit("error: --data is required to train")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    args.run.mkdir(parents=True, exist_ok=True)
    ckpt_path = args.run / "checkpoint.pt"

    torch.manual_seed(cfg.seed)
    payload = load_weights_file(Path(cfg.base))
    model = build_model(payload["config"], payload["state_dict"]).to(device)
    model.requires_grad_(False)
    if max(cfg.levels) >= model.levels:
        raise SystemExit(
            f"error: the base model has levels 0..{model.levels - 1}, config asks for {cfg.levels}"
        )
    generator = copy.deepcopy(model.synthesis).requires_grad_(True).train()
    disc = Discriminator(model.config.latent_channels, cfg.condition_channels).to(device)
    opt_g = torch.optim.Adam(generator.parameters(), lr=cfg.lr_generator, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr_discriminator, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(cfg.seed)
    step = 0
    if ckpt_path.exists():
        state = torch.load(ckpt_path, map_location=device, weights_only=False)
        generator.load_state_dict(state["generator"])
        disc.load_state_dict(state["discriminator"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        gen.set_state(state["rng"])
        step = state["step"]
        print(f"resumed from {ckpt_path} at step {step}", file=sys.stderr)

    images = load_images(args.data, args.cache_dir)
    buckets, one_source = [Bucket(0, images)], torch.ones(1)
    levels = torch.tensor(cfg.levels)

    def checkpoint() -> None:
        save_checkpoint(
            ckpt_path,
            generator=generator.state_dict(),
            discriminator=disc.state_dict(),
            opt_g=opt_g.state_dict(),
            opt_d=opt_d.state_dict(),
            rng=gen.get_state(),
            step=step,
            config=str(args.config),
        )

    guard = StopGuard(args.max_minutes)
    last_ckpt = time.monotonic()
    sums: dict[str, float] = {}
    with (
        open(args.run / "log.jsonl", "a") as log,
        tqdm(total=cfg.steps, initial=step, desc="gan", dynamic_ncols=True) as bar,
    ):
        while step < cfg.steps:
            x = sample_batch(buckets, one_source, cfg.batch_size, images.shape[1], gen).to(device)
            level = levels[torch.randint(0, len(levels), (cfg.batch_size,), generator=gen)].to(device)
            latent = decoded_latents(model, x, level)
            x_hat = generator(latent)

            real_logits = disc(x, latent)
            fake_logits = disc(x_hat.detach(), latent)
            d_loss = discriminator_loss(real_logits, fake_logits)
            d_stepped = d_loss.item() >= cfg.d_loss_floor
            if d_stepped:
                opt_d.zero_grad(set_to_none=True)
                d_loss.backward()
                opt_d.step()

            g = generator_losses(cfg, x, x_hat, disc(x_hat, latent))
            opt_g.zero_grad(set_to_none=True)
            g["total"].backward()
            opt_g.step()
            step += 1
            bar.update(1)

            stats = {
                "d_loss": d_loss.item(),
                "g_adv": g["adv"].item(),
                "mse": g["mse"].item(),
                "d_real": torch.sigmoid(real_logits).mean().item(),
                "d_fake": torch.sigmoid(fake_logits).mean().item(),
                "d_stepped": float(d_stepped),
            }
            for k, v in stats.items():
                sums[k] = sums.get(k, 0.0) + v
            if step % cfg.log_every == 0:
                record = {k: v / cfg.log_every for k, v in sums.items()}
                record["psnr"] = 10 * math.log10(255.0**2 / max(record.pop("mse"), 1e-10))
                sums.clear()
                bar.set_postfix(
                    d=f"{record['d_loss']:.2f}", g=f"{record['g_adv']:.2f}", psnr=f"{record['psnr']:.2f}"
                )
                record.update(step=step, minutes=guard.minutes())
                log.write(json.dumps(record) + "\n")
                log.flush()
            now = time.monotonic()
            if now - last_ckpt > cfg.checkpoint_minutes * 60:
                checkpoint()
                last_ckpt = now
            if why := guard.reason():
                print(f"{why} at step {step}", file=sys.stderr)
                break
    checkpoint()
    return 0


if __name__ == "__main__":
    sys.exit(main())
