"""Side-by-side crops at matched file size: original | JPEG | WebP | AVIF | nfc | nfc-gan.

    image --every quality of each codec's sweep--> file sizes --closest to the target bytes-->
        one setting per codec --decode, crop--> one row of the grid (grid.png, grid.json)

The target is a rate, `target_bpp` (default 0.25), turned into bytes per image
(target_bpp * W * H / 8), so faces and Kodak images are compared at the same bpp. Each
codec gets the setting of its sweep whose whole file is closest to the target (ties go to
the smaller file); a codec that cannot get near it (JPEG's smallest face is ~1,000 B) shows
its closest, and every caption states the bytes and PSNR, so the mismatch is visible.
Images wider or taller than `crop` px are shown as their central crop, enlarged
without smoothing.

    python -m neuralcodec.bench.grid DATA_DIR -o OUT [--images 3] [--target-bpp 0.25] [--codecs ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from PIL import Image

from neuralcodec.bench import metrics, rd
from neuralcodec.bench.codecs import DEFAULT_CONFIG, Codec, CodecConfig
from neuralcodec.bench.dataset import load_rgb
from neuralcodec.bench.provenance import REPO_ROOT
from neuralcodec.imaging import LOSSLESS_SUFFIXES, image_files

GRID_FILE = "grid.png"
GRID_JSON = "grid.json"
GRID_CODECS = ("jpeg", "webp", "avif", "nfc", "nfc-gan")
DEFAULT_TARGET_BPP = 0.25
DEFAULT_IMAGES = 3
DEFAULT_CROP = 192


@dataclass(frozen=True)
class Tile:
    """One codec's entry of one row: the setting chosen and what it gave."""

    codec: str
    quality: int
    n_bytes: int
    psnr: float


def closest_quality(sizes: Mapping[int, int], target_bytes: float) -> int:
    """The quality whose file size is closest to `target_bytes`; ties go to the smaller file."""
    if not sizes:
        raise ValueError("no sizes to choose from")
    return min(sizes, key=lambda q: (abs(sizes[q] - target_bytes), sizes[q]))


def pick_images(paths: Sequence[Path], n: int) -> list[Path]:
    """`n` images spread evenly over the sorted list (first and last included)."""
    ordered = sorted(paths)
    if n >= len(ordered):
        return ordered
    if n == 1:
        return ordered[:1]
    return [ordered[round(i * (len(ordered) - 1) / (n - 1))] for i in range(n)]


def _center_crop(img: Image.Image, size: int) -> Image.Image:
    w, h = min(size, img.width), min(size, img.height)
    left, top = (img.width - w) // 2, (img.height - h) // 2
    return img.crop((left, top, left + w, top + h))


def matched_row(
    original: Image.Image, codecs: Sequence[Codec], target_bytes: float
) -> list[tuple[Tile, Image.Image]]:
    """Per codec, the decoded image at the setting closest to `target_bytes`."""
    row = []
    for codec in codecs:
        files = {q: codec.encode(original, q) for q in codec.qualities}
        quality = closest_quality({q: len(d) for q, d in files.items()}, target_bytes)
        decoded = codec.decode(files[quality])
        psnr = metrics.evaluate(original, decoded, len(files[quality])).psnr
        row.append((Tile(codec.name, quality, len(files[quality]), psnr), decoded))
    return row


def _folder_name(paths: Iterable[Path]) -> str:
    """The images' folder, relative to the repository where it lies inside, else absolute."""
    folder = Path(os.path.commonpath([p.resolve().parent for p in paths]))
    return (folder.relative_to(REPO_ROOT) if folder.is_relative_to(REPO_ROOT) else folder).as_posix()


def make_grid(
    image_paths: Sequence[Path],
    codec_names: Sequence[str],
    out_dir: Path,
    *,
    n_images: int = DEFAULT_IMAGES,
    target_bpp: float = DEFAULT_TARGET_BPP,
    crop: int = DEFAULT_CROP,
    config: CodecConfig = DEFAULT_CONFIG,
) -> dict:
    """Writes out_dir/grid.png and out_dir/grid.json; returns what grid.json holds.

    grid.json names the folder the images came from ("images_from"), since it need not be
    the benchmark's data (SuiteOptions.grid_from)."""
    codecs, skipped = rd.resolve_codecs(codec_names, config)
    if not codecs:
        raise ValueError(f"none of {', '.join(codec_names)} can run here: {skipped}")
    rows = []
    for path in pick_images(image_paths, n_images):
        original = load_rgb(path)
        target = target_bpp * original.width * original.height / 8
        rows.append((path, original, target, matched_row(original, codecs, target)))

    fig, axes = plt.subplots(
        len(rows),
        1 + len(codecs),
        figsize=(2.3 * (1 + len(codecs)), 2.9 * len(rows)),
        dpi=100,
        squeeze=False,
    )
    for axis_row, (path, original, _target, row) in zip(axes, rows, strict=True):
        panels = [(f"original\n{path.name}", original)] + [
            (f"{t.codec} q{t.quality}\n{t.n_bytes} B, {t.psnr:.2f} dB", img) for t, img in row
        ]
        for ax, (caption, img) in zip(axis_row, panels, strict=True):
            ax.imshow(_center_crop(img, crop), interpolation="nearest")
            ax.set_title(caption, fontsize=8)
            ax.set_axis_off()
    fig.suptitle(
        f"matched file size: each codec's setting closest to {target_bpp} bpp "
        f"(whole file); crops of at most {crop} px",
        fontsize=9,
    )
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_dir / GRID_FILE)
    plt.close(fig)

    summary = {
        "images_from": _folder_name(path for path, *_ in rows),
        "target_bpp": target_bpp,
        "crop": crop,
        "skipped": skipped,
        "rows": [
            {
                "image": path.name,
                "size": list(original.size),
                "target_bytes": round(target),
                "tiles": [asdict(t) for t, _ in row],
            }
            for path, original, target, row in rows
        ],
    }
    (out_dir / GRID_JSON).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data_dir", type=Path, metavar="DATA_DIR")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT")
    p.add_argument("--codecs", default=",".join(GRID_CODECS), help="default: %(default)s")
    p.add_argument("--images", type=int, default=DEFAULT_IMAGES, help="rows (default %(default)s)")
    p.add_argument("--target-bpp", type=float, default=DEFAULT_TARGET_BPP, help="default %(default)s")
    args = p.parse_args(argv)
    try:
        paths = image_files(args.data_dir, LOSSLESS_SUFFIXES)
    except ValueError as exc:
        p.error(str(exc))
    make_grid(
        paths,
        [n.strip() for n in args.codecs.split(",") if n.strip()],
        args.output,
        n_images=args.images,
        target_bpp=args.target_bpp,
    )
    print(args.output / GRID_FILE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
