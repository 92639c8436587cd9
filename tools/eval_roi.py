"""Face-aware bit allocation (ROI) against plain coding at the same file size.

    python -m tools.eval_roi ../shared/data/faces/test -o runs/roi-eval

For every image and quality: code it without ROI and with the face ROI (the bounding box of
the detected face ellipse, i.e. what ``--roi auto`` uses), decode both, and measure against
the original:

    face PSNR     over the elliptical face mask (neuralcodec.faces; images where the Haar
                  cascade finds no face use the centred fallback ellipse and are coded
                  without ROI, as ``--roi auto`` does, and are counted)
    face MS-SSIM  over the face ellipse's bounding box (bench.metrics settings for its size)
    background    PSNR outside the mask
    whole image   PSNR
    bytes         whole .nfc file, headers included

The ROI files are rate-matched at encode time (the default of ``neuralcodec.compress``): the
inside gets +BOOST levels and the outside offset is searched per image so that the file is
as close as possible to the plain file. Several boosts can be compared (``--boosts 1,2,3``).
Means per (quality, boost) go to OUT/results.json with provenance, and as a table to stdout
and to OUT/summary.md (a `## ` section stating its command and machine, which
`python -m neuralcodec.bench.report --section OUT/summary.md` adds to bench/RESULTS.md).
Runs at low priority (nice 15) and on one thread unless told otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np
from PIL import Image


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-12)))


def _ms_ssim(original: np.ndarray, decoded: np.ndarray) -> float:
    import piq
    import torch

    from neuralcodec.bench.metrics import MS_SSIM_SCALE_WEIGHTS, SSIM_KERNEL_SIGMA, MsSsimSettings

    settings = MsSsimSettings.for_size(*original.shape[:2])
    x, y = (
        torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).permute(2, 0, 1)[None]
        for a in (decoded, original)
    )
    weights = torch.tensor(MS_SSIM_SCALE_WEIGHTS[: settings.scales])
    return piq.multi_scale_ssim(
        x,
        y,
        kernel_size=settings.kernel_size,
        kernel_sigma=SSIM_KERNEL_SIGMA,
        data_range=255,
        scale_weights=weights,
    ).item()


def measure(original: np.ndarray, data: bytes, mask: np.ndarray, bounds: tuple[int, int, int, int]) -> dict:
    import neuralcodec

    decoded = np.asarray(neuralcodec.decompress(data))
    x, y, w, h = bounds
    return {
        "bytes": len(data),
        "face_psnr": psnr(original[mask], decoded[mask]),
        "face_ms_ssim": _ms_ssim(original[y : y + h, x : x + w], decoded[y : y + h, x : x + w]),
        "background_psnr": psnr(original[~mask], decoded[~mask]),
        "psnr": psnr(original, decoded),
    }


def _mean(rows: list[dict], key: str) -> float:
    return float(np.mean([r[key] for r in rows]))


TITLE = "## Face-aware bit allocation (ROI) at equal file size"
TABLE_HEADER = [
    "| quality | variant | bytes | vs plain | face PSNR | face MS-SSIM | background PSNR | whole PSNR |",
    "|---|---|---|---|---|---|---|---|",
]


def table(summary: list[dict]) -> list[str]:
    """The means per (quality, variant) as Markdown table lines."""
    lines = list(TABLE_HEADER)
    for e in summary:
        vs = f"{100 * e['bytes_vs_plain']:+.1f} %" if "bytes_vs_plain" in e else ""
        lines.append(
            f"| {e['quality']} | {e['variant']} | {e['bytes']:.1f} | {vs} | {e['face_psnr']:.2f} | "
            f"{e['face_ms_ssim']:.4f} | {e['background_psnr']:.2f} | {e['psnr']:.2f} |"
        )
    return lines


def render_summary(results: dict, faces_line: str) -> str:
    """OUT/summary.md: the table with its command, machine, code, weights and data."""
    prov = results["provenance"]
    device, data = prov["device"], prov["dataset"]
    return "\n".join(
        [
            TITLE,
            "",
            "```bash",
            prov["command"],
            "```",
            "",
            (
                f"- Machine: {device['cpu']}, {device['cpu_count']} CPU cores, "
                f"{device['torch_threads']} torch "
                f"thread(s); GPU: {device['cuda'] or 'none'}"
            ),
            f"- Code: git `{prov['git']['sha']}`"
            + (" (uncommitted changes)" if prov["git"]["dirty"] else "")
            + f", model cvae, weights sha256 `{prov['weights_sha256']}`; run {prov['timestamp']}",
            f"- Data: {data['n_images']} images from `{data['root']}`, dataset sha256 "
            f"`{data['sha256']}`; {faces_line}",
            (
                "- Face = the elliptical Haar face mask (PSNR in dB); face MS-SSIM over the ellipse's "
                "bounding box; "
                "background = pixels outside the ellipse; means of per-image values; bytes are "
                "whole .nfc files. "
                "The ROI files are rate-matched to the plain file of the same quality (`vs plain`)."
            ),
            "",
            *table(results["summary"]),
            "",
        ]
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", type=Path, help="folder of face images")
    p.add_argument("-o", "--output", type=Path, default=Path("runs/roi-eval"), help="results folder")
    p.add_argument("--qualities", default="3,5,7", help="comma-separated quality levels (default 3,5,7)")
    p.add_argument(
        "--boosts", default=None, help="comma-separated inside boosts in levels (default: the codec's)"
    )
    p.add_argument("--limit", type=int, default=None, help="first N images only (sorted by name)")
    p.add_argument(
        "--masks", type=Path, default=Path("runs/masks"), help="face cache folder (made if missing)"
    )
    p.add_argument("--nice", type=int, default=15, help="lower this process's priority by N (default 15)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = ["python", "-m", "tools.eval_roi", *(sys.argv[1:] if argv is None else argv)]
    os.nice(args.nice)
    import torch
    from tqdm import tqdm

    import neuralcodec
    from neuralcodec import faces, roi
    from neuralcodec.bench.dataset import dataset
    from neuralcodec.bench.provenance import provenance
    from neuralcodec.imaging import image_files
    from neuralcodec.models.registry import weights_sha256
    from tools import mask_cache

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=FutureWarning)
    qualities = [int(q) for q in args.qualities.split(",")]
    boosts = (
        [roi.ROI_DEFAULT_BOOST_LEVELS] if args.boosts is None else [float(b) for b in args.boosts.split(",")]
    )

    if not mask_cache.cache_path(args.data, args.masks).exists():
        mask_cache.write_mask_cache(
            args.data, args.masks, progress=lambda it: tqdm(it, desc="detecting faces")
        )
    boxes = mask_cache.load_boxes(args.data, args.masks)
    files = image_files(args.data)[: args.limit]
    images = dataset(files, None)

    rows: dict[tuple[int, str], list[dict]] = {}
    for path in tqdm(files, desc="images"):
        rgb = np.asarray(Image.open(path).convert("RGB"))
        box = boxes[path.name]
        face_box = box or faces.fallback_box(rgb.shape[:2])
        mask = faces.face_mask(face_box, rgb.shape[:2])
        bounds = faces.face_ellipse_bounds(face_box, rgb.shape[:2])
        for q in qualities:
            plain = neuralcodec.compress(rgb, quality=q)
            rows.setdefault((q, "plain"), []).append(measure(rgb, plain, mask, bounds))
            for boost in boosts:
                data = (
                    plain
                    if box is None
                    else neuralcodec.compress(rgb, quality=q, roi=bounds, roi_levels=(boost, None))
                )
                rows.setdefault((q, f"roi+{boost:g}"), []).append(
                    {**measure(rgb, data, mask, bounds), "plain_bytes": len(plain)}
                )

    keys = ("bytes", "face_psnr", "face_ms_ssim", "background_psnr", "psnr")
    summary = []
    for (q, variant), rs in rows.items():
        entry = {"quality": q, "variant": variant, "images": len(rs), **{k: _mean(rs, k) for k in keys}}
        if variant != "plain":
            entry["bytes_vs_plain"] = entry["bytes"] / _mean(rows[(q, "plain")], "bytes") - 1
        summary.append(entry)
    no_face = sum(boxes[p.name] is None for p in files)
    results = {
        "provenance": {**provenance(command, images), "weights_sha256": weights_sha256("cvae")},
        "faces": {
            "images": len(files),
            "no_face_detected": no_face,
            "no_face_rule": "centred fallback ellipse for the metrics; coded without ROI",
        },
        "summary": summary,
    }
    faces_line = f"face found in {len(files) - no_face} ({no_face} use the centred fallback ellipse)"
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "results.json").write_text(json.dumps(results, indent=1))
    (args.output / "summary.md").write_text(render_summary(results, faces_line))

    print(f"{len(files)} images, {faces_line}")
    print("\n".join(table(summary)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
