"""Rate–distortion plots from a bench.rd results folder.

    python -m neuralcodec.bench.plot bench/results/faces [--max-bpp 1.5]

Writes ``rd_psnr.png`` and ``rd_ms_ssim.png`` next to ``results.json``: one line per codec,
mean bpp (whole-file bytes) against mean PSNR / MS-SSIM (dB), every measured quality a marker.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

PLOTS = {
    "psnr": ("PSNR (dB)", "rd_psnr.png"),
    "ms_ssim_db": ("MS-SSIM (dB, -10 log10(1 - MS-SSIM))", "rd_ms_ssim.png"),
}


def plot(results: dict, metric: str, out: Path, max_bpp: float) -> None:
    label, _ = PLOTS[metric]
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=120)
    for codec, points in results["rd"].items():
        pts = sorted((p["bpp"], p[metric]) for p in points if p["bpp"] <= max_bpp and p[metric] is not None)
        if pts:
            ax.plot(*zip(*pts, strict=True), marker="o", markersize=3, linewidth=1.5, label=codec)
    data = results["provenance"]["dataset"]
    ax.set_xlabel("bits per pixel (whole file)")
    ax.set_ylabel(label)
    ax.set_title(f"{data['n_images']} images of {'/'.join(Path(data['root']).parts[-2:])}")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def write_plots(results: dict, out_dir: Path, max_bpp: float = 1.5) -> list[Path]:
    """Both RD plots of `results` into out_dir; returns their paths."""
    paths = []
    for metric, (_, name) in PLOTS.items():
        plot(results, metric, out_dir / name, max_bpp)
        paths.append(out_dir / name)
    return paths


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "results_dir", type=Path, help="folder holding results.json from `python -m neuralcodec.bench.rd`"
    )
    p.add_argument("--max-bpp", type=float, default=1.5, help="right edge of the plots (default 1.5)")
    args = p.parse_args(argv)
    path = args.results_dir / "results.json"
    if not path.is_file():
        p.error(f"{path} not found; run `python -m neuralcodec.bench.rd ... -o {args.results_dir}` first")
    for written in write_plots(json.loads(path.read_text()), args.results_dir, args.max_bpp):
        print(written)
    return 0


if __name__ == "__main__":
    sys.exit(main())
