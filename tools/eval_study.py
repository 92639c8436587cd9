"""Compare training runs at equal rate: architecture, face-masked loss, rate warm-up.

    python -m tools.eval_study ../shared/data/faces/test -o runs/study-eval --masks runs/masks \\
        --run base=runs/study-base:tools/configs/study/base.toml \\
        --run masked=runs/study-masked:tools/configs/study/masked.toml \\
        --run warmup=runs/study-warmup:tools/configs/study/warmup.toml \\
        --run peer=runs/study-peer:tools/configs/study/peer.toml \\
        --compare masked:base --compare warmup:base --compare peer:base

Each run (NAME=RUN_FOLDER:CONFIG, either architecture of tools/train.py) is loaded from its
checkpoint and codes every test image at every trained lambda with real entropy coding. The
bytes are whole .nfc files (our container around the run's streams; the peer's two streams
fit it too), so every run pays the same header. Metrics (bench.metrics, piq on 8-bit RGB):
PSNR and MS-SSIM on the whole image and on the face (the ellipse of ``--masks``, a
tools/make_masks.py cache of the test folder, or a folder of mask images).

``--compare TEST:ANCHOR`` adds the BD-rate of TEST against ANCHOR (negative = fewer bits for
the same quality) for every metric, and each metric's difference at fixed rates (dB at
equal bpp). Writes OUT/results.json and OUT/summary.md (a ``## `` section for RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from neuralcodec import imaging
from neuralcodec.bench import metrics
from neuralcodec.bench.bdrate import RdCurve, bd_rate, quality_at_rate
from neuralcodec.bench.dataset import dataset, load_rgb
from neuralcodec.bench.provenance import provenance
from neuralcodec.container import NfcFile, pack
from neuralcodec.models.trainable import TrainableFaceHyperprior
from neuralcodec.transforms.networks import STRIDE
from tools.mask_cache import load_masks
from tools.train import TrainConfig

METRICS = {
    "psnr": "PSNR (dB)",
    "ms_ssim_db": "MS-SSIM (dB)",
    "face_psnr": "face PSNR (dB)",
    "face_ms_ssim_db": "face MS-SSIM (dB)",
}
FIXED_BPP = (0.3, 0.4, 0.55)


def ms_ssim_db(value: float) -> float:
    return -10 * math.log10(max(1 - value, 1e-10))


class Run:
    """A checkpoint of tools/train.py that codes an image at one of its levels."""

    def __init__(self, name: str, folder: Path, config: Path):
        self.name, self.folder, self.config_path = name, folder, config
        self.cfg = TrainConfig.from_toml(config)
        state = torch.load(folder / "checkpoint.pt", map_location="cpu", weights_only=False)
        self.steps = int(state["step"])
        self.model = self.cfg.build_model()
        self.model.load_state_dict(state["model"])
        self.model.eval()
        if isinstance(self.model, TrainableFaceHyperprior):
            self.model.update_tables()
        else:
            for m in self.model.models:
                m.update(force=True)

    @property
    def levels(self) -> int:
        return len(self.cfg.lambdas)

    @torch.inference_mode()
    def code(self, rgb: np.ndarray, level: int) -> tuple[int, np.ndarray]:
        """(whole-file bytes, decoded uint8 image) of ``rgb`` at ``level``."""
        height, width = rgb.shape[:2]
        x = imaging.to_padded_tensor(rgb, STRIDE)
        if isinstance(self.model, TrainableFaceHyperprior):
            enc = self.model.compress(x, level)
            streams = (enc.hyper_stream, enc.latent_stream)
            x_hat = self.model.decompress(enc, level)
        else:
            peer = self.model.models[level]
            out = peer.compress(x)
            streams = tuple(s[0] for s in out["strings"])
            x_hat = peer.decompress(out["strings"], out["shape"])["x_hat"]
        data = pack(NfcFile(model_hash=0, quality=level + 1, width=width, height=height, streams=streams))
        return len(data), np.asarray(imaging.to_image(x_hat.clamp(0, 1), width, height))


def measure(run: Run, images, masks: dict) -> list[dict]:
    rows = []
    for image in tqdm(images, desc=run.name, unit="img"):
        original = load_rgb(Path(image.path))
        rgb = np.asarray(original)
        for level in range(run.levels):
            n_bytes, decoded = run.code(rgb, level)
            m = metrics.evaluate(
                original, Image.fromarray(decoded), n_bytes, masks.get(Path(image.path).name)
            )
            rows.append(
                {
                    "run": run.name,
                    "level": level + 1,
                    "image": image.name,
                    "bpp": m.bpp,
                    "psnr": m.psnr,
                    "ms_ssim_db": ms_ssim_db(m.ms_ssim),
                    "face_psnr": None if m.face is None else m.face.psnr,
                    "face_ms_ssim_db": None if m.face is None else ms_ssim_db(m.face.ms_ssim),
                }
            )
    return rows


def curves(rows: list[dict]) -> dict[str, list[dict]]:
    """Mean bpp and metrics per run and level (images without a face count for the whole-image
    metrics only)."""
    out: dict[str, list[dict]] = {}
    for run in dict.fromkeys(r["run"] for r in rows):
        points = []
        for level in sorted({r["level"] for r in rows if r["run"] == run}):
            group = [r for r in rows if r["run"] == run and r["level"] == level]
            point = {"level": level, "images": len(group), "bpp": float(np.mean([r["bpp"] for r in group]))}
            for key in METRICS:
                values = [r[key] for r in group if r[key] is not None]
                point[key] = float(np.mean(values)) if values else None
            points.append(point)
        out[run] = points
    return out


def compare(points: dict[str, list[dict]], test: str, anchor: str) -> dict:
    result = {"test": test, "anchor": anchor, "bd_rate": {}, "delta_at_bpp": {}}
    for key in METRICS:

        def curve(run: str, key: str = key) -> RdCurve:
            pts = [p for p in points[run] if p[key] is not None]
            return RdCurve.of([p["level"] for p in pts], [p["bpp"] for p in pts], [p[key] for p in pts])

        a, t = curve(anchor), curve(test)
        bd = bd_rate(a, t)
        result["bd_rate"][key] = {"percent": bd.percent, "reason": bd.reason, "overlap": bd.overlap}
        deltas = {}
        for bpp in FIXED_BPP:
            qa, qt = quality_at_rate(a, bpp), quality_at_rate(t, bpp)
            deltas[str(bpp)] = None if qa is None or qt is None else qt - qa
        result["delta_at_bpp"][key] = deltas
    return result


def training_summary(run: Run) -> dict:
    log = run.folder / "log.jsonl"
    records = (
        [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if log.is_file() else []
    )
    return {
        "steps": run.steps,
        "minutes": records[-1]["minutes"] if records else None,
        "architecture": run.cfg.architecture,
        "config": str(run.config_path),
        "masked": run.cfg.masked,
        "rate_warmup_steps": run.cfg.rate_warmup_steps,
    }


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "—" if value is None else f"{value:{spec}}{suffix}"


def render(results: dict) -> str:
    prov = results["provenance"]
    lines = [
        "## Training studies at equal compute (architecture, face-masked loss, rate warm-up)",
        "",
        "Small from-scratch runs that differ in one thing each from the baseline, all with the same "
        ""
        "steps, batches, crops and lambdas (tools/configs/study/), evaluated on "
        f"{results['images']} images of "
        f"`{results['data']}` with real entropy coding; bytes are whole .nfc files for every run. "
        "These runs are far shorter than the shipped model's training, so the absolute numbers are "
        "lower than the shipped model's: read the differences.",
        "",
        f"Command: `{prov['command']}` — git `{prov['git']['sha'][:12]}`"
        + (" (uncommitted changes)" if prov["git"]["dirty"] else "")
        + f", {prov['device']['cpu']}, {prov['device']['cpu_count']} cores.",
        "",
        "| run | architecture | masked loss | rate warm-up | steps | training minutes |",
        "|---|---|---|---|---|---|",
    ]
    for name, t in results["training"].items():
        lines.append(
            f"| {name} | {t['architecture']} | {'yes' if t['masked'] else 'no'} | "
            f"{t['rate_warmup_steps'] or 'no'} | {t['steps']} | {_fmt(t['minutes'], '.1f')} |"
        )
    lines += [
        "",
        "Mean per trained lambda:",
        "",
        "| run | level | bpp | PSNR | MS-SSIM (dB) | face PSNR | face MS-SSIM (dB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, points in results["curves"].items():
        for p in points:
            lines.append(
                f"| {name} | {p['level']} | {p['bpp']:.3f} | {_fmt(p['psnr'], '.2f')} | "
                f"{_fmt(p['ms_ssim_db'], '.2f')} | "
                f"{_fmt(p['face_psnr'], '.2f')} | {_fmt(p['face_ms_ssim_db'], '.2f')} |"
            )
    header = " | ".join(METRICS.values())
    lines += [
        "",
        "BD-rate of each run against its anchor (negative = fewer bits for the same quality) "
        "and the quality difference at equal rate:",
        "",
        f"| test vs anchor | {header} |",
        "|---|" + "---|" * len(METRICS),
    ]
    for c in results["comparisons"]:
        cells = []
        for key in METRICS:
            bd = c["bd_rate"][key]
            cells.append(
                _fmt(bd["percent"], "+.1f", " %") if bd["percent"] is not None else f"— ({bd['reason']})"
            )
        lines.append(f"| {c['test']} vs {c['anchor']} | " + " | ".join(cells) + " |")
    for c in results["comparisons"]:
        for bpp in FIXED_BPP:
            cells = [_fmt(c["delta_at_bpp"][key][str(bpp)], "+.2f", " dB") for key in METRICS]
            lines.append(f"| {c['test']} vs {c['anchor']} at {bpp} bpp | " + " | ".join(cells) + " |")
    lines.append("")
    return "\n".join(lines)


def run_arg(text: str) -> tuple[str, Path, Path]:
    """argparse type of --run NAME=RUN_FOLDER:CONFIG (also used by tools.time_runs)."""
    name, sep, rest = text.partition("=")
    folder, sep2, config = rest.rpartition(":")
    if not (sep and sep2 and name and folder and config):
        raise argparse.ArgumentTypeError(f"expected NAME=RUN_FOLDER:CONFIG, got {text!r}")
    return name, Path(folder), Path(config)


def _compare_arg(text: str) -> tuple[str, str]:
    test, sep, anchor = text.partition(":")
    if not (sep and test and anchor):
        raise argparse.ArgumentTypeError(f"expected TEST:ANCHOR, got {text!r}")
    return test, anchor


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", type=Path, help="folder of test images")
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    p.add_argument("--run", type=run_arg, action="append", required=True, metavar="NAME=RUN_FOLDER:CONFIG")
    p.add_argument("--compare", type=_compare_arg, action="append", default=[], metavar="TEST:ANCHOR")
    p.add_argument(
        "--masks", type=Path, help="face masks of the test folder (tools/make_masks.py cache or mask images)"
    )
    p.add_argument("--limit", type=int, help="only the first N images, sorted by name")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    args = p.parse_args(argv)
    names = [name for name, _, _ in args.run]
    if len(set(names)) != len(names):
        p.error("run names must differ")
    for test, anchor in args.compare:
        if test not in names or anchor not in names:
            p.error(f"--compare {test}:{anchor} names a run that is not given")
    for name, folder, config in args.run:
        if not (folder / "checkpoint.pt").is_file():
            p.error(f"run {name}: {folder / 'checkpoint.pt'} not found")
        if not config.is_file():
            p.error(f"run {name}: {config} not found")
    if args.threads:
        torch.set_num_threads(args.threads)
    images = dataset(imaging.image_files(args.data, imaging.LOSSLESS_SUFFIXES), args.limit)
    masks = {} if args.masks is None else load_masks(args.data, args.masks)
    # Provenance first: the code that runs is the one of the start.
    prov = provenance(["python", "-m", "tools.eval_study", *(sys.argv[1:] if argv is None else argv)], images)
    runs = [Run(*spec) for spec in args.run]
    rows = [row for run in runs for row in measure(run, images, masks)]
    points = curves(rows)
    results = {
        "data": str(args.data),
        "images": len(images),
        "masks": None if args.masks is None else str(args.masks),
        "training": {run.name: training_summary(run) for run in runs},
        "curves": points,
        "comparisons": [compare(points, test, anchor) for test, anchor in args.compare],
        "provenance": prov,
    }
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "per_image.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (args.output / "results.json").write_text(json.dumps(results, indent=1))
    (args.output / "summary.md").write_text(render(results))
    print(args.output / "summary.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
