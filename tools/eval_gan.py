"""What the realistic (GAN) decoder buys and costs, against the faithful one, on the same files.

    python -m tools.eval_gan ../shared/data/faces/test -o runs/gan-eval --log runs/gan/log.jsonl

Every image is encoded once per quality of the ``gan`` model (the bitstream is shared) and
decoded by both decoders. Per decoder and quality it reports the mean PSNR, MS-SSIM and VIF
(bench.metrics, piq on 8-bit RGB) and the **sharpness**: the high-frequency energy ratio
decoded / original, where high frequency is the luma minus its Gaussian blur (sigma
:data:`HF_SIGMA` px). An MSE decoder averages texture away (ratio well below 1); 1 means as
much fine detail as the original (not necessarily the same detail). LPIPS and FID need
network weights that cannot be downloaded here, so they are not reported.

With ``--log`` (the training run's log.jsonl) the summary adds the discriminator/generator
balance over training. Writes OUT/results.json, OUT/summary.md (a ``## `` section for
bench/RESULTS.md) and OUT/gan_crops.png (the bundled example face at each quality).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter
from tqdm import tqdm

import neuralcodec
from neuralcodec.bench import metrics
from neuralcodec.bench.dataset import dataset, load_rgb
from neuralcodec.bench.provenance import provenance
from neuralcodec.imaging import LOSSLESS_SUFFIXES, image_files

REPO = Path(__file__).resolve().parent.parent

HF_SIGMA = 1.5
DECODERS = ("faithful", "realistic")
EXAMPLE_FACE = REPO / "docs" / "example" / "face.png"
LUMA = np.array([0.299, 0.587, 0.114])


def high_frequency_energy(rgb: np.ndarray) -> float:
    """Mean squared luma minus its Gaussian blur (sigma HF_SIGMA px), on the 0..255 scale."""
    luma = rgb.astype(np.float64) @ LUMA
    return float(np.mean((luma - gaussian_filter(luma, HF_SIGMA, mode="reflect")) ** 2))


def evaluate_image(img: Image.Image, qualities: list[int]) -> list[dict]:
    original = np.asarray(img)
    hf_original = high_frequency_energy(original)
    rows = []
    for quality in qualities:
        data = neuralcodec.compress(img, quality=quality, model="gan")
        for decoder in DECODERS:
            decoded = neuralcodec.decompress(data, decoder=decoder)
            m = metrics.evaluate(img, decoded, len(data))
            rows.append(
                {
                    "quality": quality,
                    "decoder": decoder,
                    "bpp": m.bpp,
                    "psnr": m.psnr,
                    "ms_ssim": m.ms_ssim,
                    "vif": m.vif,
                    "hf_ratio": high_frequency_energy(np.asarray(decoded)) / max(hf_original, 1e-9),
                }
            )
    return rows


def aggregate(rows: list[dict]) -> list[dict]:
    """Means per (quality, decoder), in quality order."""
    out = []
    for quality in sorted({r["quality"] for r in rows}):
        for decoder in DECODERS:
            group = [r for r in rows if r["quality"] == quality and r["decoder"] == decoder]
            mean = {
                k: float(np.mean([r[k] for r in group]))
                for k in ("bpp", "psnr", "ms_ssim", "vif", "hf_ratio")
            }
            out.append({"quality": quality, "decoder": decoder, "images": len(group), **mean})
    return out


def balance(log: Path, windows: int = 6) -> list[dict]:
    """The training log in `windows` equal spans of steps: mean D loss, G adversarial loss,
    D(real), D(fake), share of steps where D trained, and the batch PSNR."""
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    if not records:
        return []
    out, previous = [], 0
    for chunk in np.array_split(np.arange(len(records)), min(windows, len(records))):
        span = [records[i] for i in chunk]
        mean = {
            k: float(np.mean([r[k] for r in span]))
            for k in ("d_loss", "g_adv", "d_real", "d_fake", "d_stepped", "psnr")
        }
        out.append({"first_step": previous, "last_step": span[-1]["step"], **mean})
        previous = span[-1]["step"]
    return out


def crops_figure(qualities: list[int], out: Path) -> None:
    """Rows: original, faithful and realistic decodes of the example face; one column per quality."""
    img = Image.open(EXAMPLE_FACE).convert("RGB")
    columns = []
    for quality in qualities:
        data = neuralcodec.compress(img, quality=quality, model="gan")
        tiles = [img] + [neuralcodec.decompress(data, decoder=d) for d in DECODERS]
        column = Image.new("RGB", (img.width, img.height * len(tiles)))
        for i, tile in enumerate(tiles):
            column.paste(tile, (0, i * img.height))
        columns.append(column)
    sheet = Image.new("RGB", (img.width * len(columns), columns[0].height))
    for i, column in enumerate(columns):
        sheet.paste(column, (i * img.width, 0))
    sheet.resize((sheet.width * 2, sheet.height * 2), Image.NEAREST).save(out)


def render(results: dict) -> str:
    prov = results["provenance"]
    lines = [
        "## Realistic (GAN) decoder against the faithful one",
        "",
        f"{results['images']} images of `{results['data']}`, each encoded once per quality and decoded by "
        "both decoders (same files, same bytes). Sharpness = high-frequency energy of the decoded "
        f"image / the original's (luma minus its Gaussian blur, sigma {HF_SIGMA} px; 1 = as much fine "
        "detail as the original). LPIPS/FID need weights that cannot be downloaded here: not reported.",
        "",
        f"Command: `{prov['command']}` — git `{prov['git']['sha'][:12]}`"
        + (" (uncommitted changes)" if prov["git"]["dirty"] else "")
        + f", {prov['device']['cpu']}, {prov['device']['cpu_count']} cores.",
        "",
        "| quality | bpp | PSNR faithful | PSNR realistic | Δ dB | MS-SSIM f | MS-SSIM r | VIF f | VIF "
        "r | sharpness f | sharpness r |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    by = {(r["quality"], r["decoder"]): r for r in results["means"]}
    for quality in results["qualities"]:
        f, r = by[(quality, "faithful")], by[(quality, "realistic")]
        lines.append(
            f"| {quality} | {f['bpp']:.3f} | {f['psnr']:.2f} | {r['psnr']:.2f} | "
            f"{r['psnr'] - f['psnr']:+.2f} | "
            f"{f['ms_ssim']:.4f} | {r['ms_ssim']:.4f} | {f['vif']:.3f} | {r['vif']:.3f} | "
            f"{f['hf_ratio']:.2f} | {r['hf_ratio']:.2f} |"
        )
    lines += [
        "",
        "![original, faithful, realistic (rows) at each quality (columns), the example face](gan_crops.png)",
        "",
    ]
    if results.get("balance"):
        lines += [
            "Training balance (`log.jsonl` of the run, in equal spans of steps): the discriminator's loss "
            "stays near its chance value ln 4 ≈ 1.39 when neither side wins; D trains only while its "
            "loss is above the config's floor.",
            "",
            "| steps | D loss | G adversarial | D(real) | D(fake) | D steps taken | batch PSNR |",
            "|---|---|---|---|---|---|---|",
        ]
        for b in results["balance"]:
            lines.append(
                f"| {b['first_step']}–{b['last_step']} | {b['d_loss']:.3f} | {b['g_adv']:.3f} | "
                f"{b['d_real']:.3f} | "
                f"{b['d_fake']:.3f} | {b['d_stepped']:.0%} | {b['psnr']:.2f} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", type=Path, help="folder of test images")
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    p.add_argument(
        "--qualities",
        type=lambda v: [int(q) for q in v.split(",")],
        help="comma-separated (default: every quality of the gan model)",
    )
    p.add_argument("--limit", type=int, help="only the first N images, sorted by name")
    p.add_argument("--log", type=Path, help="the GAN training run's log.jsonl, for the balance table")
    args = p.parse_args(argv)
    qualities = args.qualities or neuralcodec.available_qualities("gan")
    bad = sorted(set(qualities) - set(neuralcodec.available_qualities("gan")))
    if bad:
        p.error(f"qualities {bad} are not qualities of the gan model")
    if args.log is not None and not args.log.is_file():
        p.error(f"{args.log} not found")
    images = dataset(image_files(args.data, LOSSLESS_SUFFIXES), args.limit)
    if not images:
        p.error(f"no images in {args.data}")
    # Provenance first: the code and weights that run are the ones of the start.
    prov = provenance(["python", "-m", "tools.eval_gan", *(sys.argv[1:] if argv is None else argv)], images)
    rows = []
    for image in tqdm(images, desc="gan-eval", unit="img"):
        rows += [
            {"image": Path(image.path).name, **r}
            for r in evaluate_image(load_rgb(Path(image.path)), qualities)
        ]
    results = {
        "data": str(args.data),
        "images": len(images),
        "qualities": qualities,
        "hf_sigma": HF_SIGMA,
        "means": aggregate(rows),
        "balance": balance(args.log) if args.log else [],
        "provenance": prov,
    }
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "per_image.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (args.output / "results.json").write_text(json.dumps(results, indent=1))
    crops_figure(qualities, args.output / "gan_crops.png")
    (args.output / "summary.md").write_text(render(results))
    print(args.output / "summary.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
