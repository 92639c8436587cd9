"""Rate–distortion runner: every image x every codec x every quality, with provenance.

    image files --load_rgb--> RGB --codec.encode(q)--> bytes --codec.decode--> RGB
        --metrics.evaluate--> one line of out_dir/per_image.jsonl
    per_image.jsonl --mean per (codec, quality)--> RD curves --bdrate--> BD-rate tables
        --> out_dir/results.json (numbers + provenance), out_dir/summary.md (tables)

Where a face mask provider is given (bench.masks), it is called once per original image and
every result of that image also carries face-region metrics; their means cover the images
that had a mask, and say how many.

Images are decoded with Pillow, converted to 8-bit RGB and rebuilt from their pixels, so
no codec is handed metadata (an ICC profile, EXIF) that another would not get. Curves are
arithmetic means over images of per-image values (bytes, bpp, PSNR in dB, SSIM, MS-SSIM);
BD-rates compare those mean curves, for PSNR and for MS-SSIM in dB (-10 log10(1 - MS-SSIM),
the mean MS-SSIM converted), against each anchor codec that was run.

Resume: a line is written and flushed per (codec, quality, image) as soon as it is measured,
and a re-run skips every line already present for the same image name and content hash. A
codec whose fixed settings (library version, options), a different face mask provider or an
older record format stop the run with StaleResults: old numbers are never mixed with new ones.

    python -m bench.rd DATA_DIR --codecs jpeg,webp,avif,nfc -o OUT [--limit N]
"""

import argparse
import datetime
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import shlex
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, features
from tqdm import tqdm

from bench import masks, metrics
from bench.bdrate import BD_METHOD, RdCurve, bd_rate, quality_at_rate
from bench.codecs import (
    DEFAULT_CONFIG,
    Codec,
    CodecConfig,
    CodecUnavailable,
    HasHeader,
    UnknownCodec,
    avif_codec_versions,
    codec_names,
    get_codec,
)

PER_IMAGE_FILE = "per_image.jsonl"
RESULTS_FILE = "results.json"
SUMMARY_FILE = "summary.md"
ANCHORS = ("jpeg", "webp", "avif")
DEFAULT_CODECS = ("jpeg", "webp", "avif", "nfc")
IMAGE_SUFFIXES = (".png", ".bmp", ".ppm", ".tif", ".tiff")
BD_METRICS = {"psnr": "PSNR", "ms_ssim_db": "MS-SSIM (dB)"}
FIXED_BPP = (0.1, 0.25, 0.5)
AT_BPP_METRICS = {"psnr": "PSNR dB", "ms_ssim": "MS-SSIM"}
MEAN_KEYS = ("n_bytes", "bpp", "psnr", "ssim", "ms_ssim", "vif", "l1", "l2")
FACE_KEYS = ("psnr", "ssim", "ms_ssim", "vif", "l1", "l2")
# Bump when a record gains or changes a field, so that a resume never mixes record formats.
RECORD_FORMAT = 2
REPO_ROOT = Path(__file__).resolve().parents[1]


class StaleResults(ValueError):
    """out_dir holds results made with other settings of a codec being run."""


@dataclass(frozen=True)
class DatasetImage:
    path: Path
    name: str
    sha256: str


def load_rgb(path: Path) -> Image.Image:
    """An 8-bit RGB image carrying pixels only, no metadata."""
    with Image.open(path) as im:
        return Image.fromarray(np.asarray(im.convert("RGB")))


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dataset(image_paths: Iterable[str | os.PathLike], limit: int | None) -> list[DatasetImage]:
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    paths = sorted({Path(p) for p in image_paths})[:limit]
    if not paths:
        raise ValueError("no images given")
    root = _common_folder(paths)
    return [DatasetImage(p, p.relative_to(root).as_posix(), _file_sha256(p)) for p in paths]


def _common_folder(paths: Iterable[Path]) -> Path:
    return Path(os.path.commonpath([p.parent for p in paths]))


def _dataset_provenance(images: Sequence[DatasetImage]) -> dict[str, object]:
    listing = "".join(f"{img.sha256}  {img.name}\n" for img in images)
    return {
        "root": str(_common_folder(img.path for img in images).resolve()),
        "n_images": len(images),
        "sha256": hashlib.sha256(listing.encode()).hexdigest(),
        "sha256_of": "the `sha256sum`-style listing '<sha256>  <name>\\n' of the sorted files",
        "files": [{"name": img.name, "sha256": img.sha256} for img in images],
    }


class _ResultStore:
    """per_image.jsonl: one JSON object per measured (codec, quality, image)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: list[dict] = []
        if not path.exists():
            return
        text = path.read_text()
        lines = text.split("\n")
        if lines[-1]:
            # A run killed mid-write leaves a partial last line; drop it so appends stay valid.
            path.write_text("\n".join(lines[:-1]) + ("\n" if len(lines) > 1 else ""))
        self.records = [json.loads(line) for line in lines[:-1] if line]

    def check_settings(self, codecs: Sequence[Codec], face_mask: str) -> None:
        current = {c.name: json.loads(json.dumps(dict(c.settings))) for c in codecs}
        for record in self.records:
            if record.get("record_format") != RECORD_FORMAT:
                raise StaleResults(
                    f"{self.path} holds records of an older benchmark version (format "
                    f"{record.get('record_format', 1)}, now {RECORD_FORMAT}); "
                    "use a fresh output directory"
                )
            if record["face_mask"] != face_mask:
                raise StaleResults(
                    f"{self.path} holds results with face masks from {record['face_mask']!r}, "
                    f"now {face_mask!r}; use a fresh output directory"
                )
            expected = current.get(record["codec"])
            if expected is not None and record["settings"] != expected:
                raise StaleResults(
                    f"{self.path} holds {record['codec']} results made with settings "
                    f"{record['settings']}, now {expected}; use a fresh output directory"
                )

    def keys(self) -> set[tuple]:
        return {_key(r["codec"], r["quality"], r["image"], r["image_sha256"]) for r in self.records}

    def append(self, record: dict) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(record, allow_nan=False) + "\n")
        self.records.append(record)


def _key(codec: str, quality: int, image: str, sha256: str) -> tuple:
    return codec, quality, image, sha256


def resolve_codecs(
    names: Sequence[str], config: CodecConfig = DEFAULT_CONFIG
) -> tuple[list[Codec], dict[str, str]]:
    """The codecs that can run here, and {name: reason} for those that cannot.

    Raises UnknownCodec, before building any codec, for a name not in the registry."""
    if not names:
        raise UnknownCodec("no codec given")
    codecs, skipped = [], {}
    for name in dict.fromkeys(names):
        try:
            codecs.append(get_codec(name, config))
        except CodecUnavailable as exc:
            skipped[name] = str(exc)
    return codecs, skipped


def _measure(
    codec: Codec, quality: int, original: Image.Image, face_mask: np.ndarray | None
) -> dict:
    data = codec.encode(original, quality)
    measured = asdict(metrics.evaluate(original, codec.decode(data), len(data), face_mask))
    if isinstance(codec, HasHeader):
        measured["header_bytes"] = codec.header_bytes(data)
    return measured


def _ms_ssim_db(ms_ssim: float) -> float | None:
    return -10 * math.log10(1 - ms_ssim) if ms_ssim < 1 else None


def _of_dataset(records: Iterable[dict], images: Sequence[DatasetImage]) -> list[dict]:
    wanted = {(img.name, img.sha256) for img in images}
    return [r for r in records if (r["image"], r["image_sha256"]) in wanted]


def _aggregate(records: Iterable[dict], codecs: Sequence[Codec]) -> dict[str, list[dict]]:
    groups: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for r in records:
        groups[r["codec"], r["quality"]].append(r)
    rd = {}
    for codec in codecs:
        points = []
        for q in sorted(codec.qualities):
            group = groups[codec.name, q]
            mean = {k: _mean([r[k] for r in group]) for k in MEAN_KEYS}
            point = {
                "quality": q,
                "n_images": len(group),
                "bytes": mean["n_bytes"],
                **{k: mean[k] for k in MEAN_KEYS if k != "n_bytes"},
                "ms_ssim_db": _ms_ssim_db(mean["ms_ssim"]),
            }
            if any("header_bytes" in r for r in group):
                point["header_bytes"] = _mean([r["header_bytes"] for r in group])
                point["header_share"] = _mean([r["header_bytes"] / r["n_bytes"] for r in group])
            faces = [r["face"] for r in group if r.get("face")]
            if faces:
                point["face"] = {
                    "n_images": len(faces),
                    **{k: _mean([f[k] for f in faces]) for k in FACE_KEYS},
                }
            points.append(point)
        rd[codec.name] = points
    return rd


def _mean(values: Sequence[float | None]) -> float | None:
    """The mean, or None if any value is missing (e.g. VIF of images under 41 px)."""
    if not values or any(v is None for v in values):
        return None
    return float(np.mean(values))


def _curve(points: Sequence[dict], metric: str) -> RdCurve:
    return RdCurve.of(
        [p["quality"] for p in points],
        [p["bpp"] for p in points],
        [math.nan if p[metric] is None else p[metric] for p in points],
    )


def _bd_rates(rd: dict[str, list[dict]]) -> dict[str, dict[str, dict[str, dict]]]:
    """metric -> test codec -> anchor codec -> BdRate as a dict."""
    anchors = [a for a in ANCHORS if a in rd]
    return {
        metric: {
            test: {
                anchor: asdict(bd_rate(_curve(rd[anchor], metric), _curve(rd[test], metric)))
                for anchor in anchors
            }
            for test in rd
        }
        for metric in BD_METRICS
    }


def _smallest_files(rd: dict[str, list[dict]]) -> dict[str, dict]:
    """Per codec, the quality setting with the smallest mean file."""
    return {
        name: {
            k: min(points, key=lambda p: p["bytes"])[k]
            for k in ("quality", "bytes", "bpp", "psnr", "ms_ssim")
        }
        for name, points in rd.items()
        if points
    }


def _at_fixed_bpp(rd: dict[str, list[dict]]) -> dict[str, dict[str, dict[str, float | None]]]:
    """metric -> codec -> str(bpp) -> quality interpolated on the codec's curve, or None
    where the bpp lies outside the range its sweep covers."""
    return {
        metric: {
            name: {
                str(rate): quality_at_rate(_curve(points, metric), rate) for rate in FIXED_BPP
            }
            for name, points in rd.items()
        }
        for metric in AT_BPP_METRICS
    }


def _ms_ssim_settings_used(records: Iterable[dict]) -> list[dict]:
    per_image = {
        (r["image"], r["image_sha256"], r["ms_ssim_kernel_size"], r["ms_ssim_scales"])
        for r in records
    }
    counts: dict[tuple[int, int], int] = defaultdict(int)
    for _, _, kernel_size, scales in per_image:
        counts[kernel_size, scales] += 1
    return [{"kernel_size": k, "scales": s, "n_images": n} for (k, s), n in sorted(counts.items())]


def _package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance(command: Sequence[str], images: Sequence[DatasetImage]) -> dict[str, object]:
    """Where, when, with what and on which data the numbers were made."""
    status = _git("status", "--porcelain")
    return {
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join(command),
        "git": {
            "sha": _git("rev-parse", "HEAD") or "unknown",
            "dirty": None if status is None else bool(status),
        },
        "versions": {
            "python": platform.python_version(),
            "pillow": _package_version("pillow"),
            "libjpeg_turbo": features.version("libjpeg_turbo"),
            "libwebp": features.version("webp"),
            "libavif": features.version("avif"),
            "avif_codecs": avif_codec_versions(),
            "pillow_jxl_plugin": _package_version("pillow-jxl-plugin"),
            "torch": torch.__version__,
            "compressai": _package_version("compressai"),
            "piq": _package_version("piq"),
            "numpy": np.__version__,
            "bjontegaard": _package_version("bjontegaard"),
            "scipy": _package_version("scipy"),
        },
        "device": {
            "cpu": _cpu_model(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "platform": platform.platform(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        },
        "dataset": _dataset_provenance(images),
    }


def run(
    image_paths: Iterable[str | os.PathLike],
    codec_names: Sequence[str],
    out_dir: str | os.PathLike,
    limit: int | None = None,
    *,
    command: Sequence[str] | None = None,
    config: CodecConfig = DEFAULT_CONFIG,
    face_mask: str = masks.NO_MASKS,
) -> dict:
    """Benchmark the codecs on the first `limit` images (sorted by path); returns results.json.

    Raises UnknownCodec for a name not in the registry and UnknownMaskProvider for a
    `face_mask` that cannot be loaded, before any work; codecs that cannot run here are
    skipped and listed with the reason. `command` is recorded as the command line
    (default: sys.argv); `config` carries codec options (peer weights).
    """
    codecs, skipped = resolve_codecs(codec_names, config)
    provider = masks.load_mask_provider(face_mask)
    images = dataset(image_paths, limit)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    store = _ResultStore(out / PER_IMAGE_FILE)
    store.check_settings(codecs, face_mask)

    done = store.keys()
    total = len(images) * sum(len(c.qualities) for c in codecs)
    todo = [
        [
            (codec, q)
            for codec in codecs
            for q in codec.qualities
            if _key(codec.name, q, img.name, img.sha256) not in done
        ]
        for img in images
    ]
    with tqdm(total=total, initial=total - sum(map(len, todo)), unit="enc", desc="rd") as bar:
        for img, pending in zip(images, todo, strict=True):
            if not pending:
                continue
            original = load_rgb(img.path)
            mask = None if provider is None else provider(original)
            for codec, q in pending:
                try:
                    measured = _measure(codec, q, original, mask)
                except Exception as exc:
                    exc.add_note(f"while running {codec.name} at quality {q} on {img.path}")
                    raise
                store.append(
                    {
                        "record_format": RECORD_FORMAT,
                        "codec": codec.name,
                        "quality": q,
                        "image": img.name,
                        "image_sha256": img.sha256,
                        "settings": dict(codec.settings),
                        "face_mask": face_mask,
                        **measured,
                    }
                )
                bar.update()

    records = _of_dataset(store.records, images)
    rd = _aggregate(records, codecs)
    results = {
        "provenance": provenance(sys.argv if command is None else command, images),
        "metrics": {
            **metrics.describe(),
            "averaging": "arithmetic mean over images of per-image values, per (codec, quality)",
            "ms_ssim_used": _ms_ssim_settings_used(records),
            "face_mask_provider": face_mask,
            "face_masks_found": len({r["image"] for r in records if r.get("face")}),
        },
        "bd_rate_method": {
            "package": "bjontegaard",
            "interpolation": BD_METHOD,
            "rate": "log10 of mean bpp",
            "curves": "mean curves; dominated points dropped (listed per result)",
            "ms_ssim_db": "-10 * log10(1 - mean MS-SSIM)",
        },
        "codecs": {
            c.name: {"settings": dict(c.settings), "qualities": list(c.qualities)} for c in codecs
        },
        "skipped": skipped,
        "per_image_file": PER_IMAGE_FILE,
        "rd": rd,
        "bd_rate": _bd_rates(rd),
        "smallest_file": _smallest_files(rd),
        "at_bpp": _at_fixed_bpp(rd),
    }
    (out / RESULTS_FILE).write_text(json.dumps(results, indent=2, allow_nan=False) + "\n")
    (out / SUMMARY_FILE).write_text(render_summary(results))
    return results


def _bd_cell(result: dict) -> str:
    if result["percent"] is None:
        return f"n/a: {result['reason']}"
    return f"{result['percent']:+.1f} % [{result['overlap']:.0%}]"


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def _num(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def render_summary(results: dict, level: int = 1) -> str:
    """summary.md: provenance, BD-rate tables, quality at fixed bpp, smallest files, header
    overhead, face-region means, RD points, skipped codecs.

    `level` is the Markdown heading level of the title, so that a report can nest it."""
    h1, h2, h3 = ("#" * (level + i) for i in range(3))
    prov = results["provenance"]
    data = prov["dataset"]
    versions = ", ".join(f"{k} {v}" for k, v in prov["versions"].items() if v is not None)
    ms_used = "; ".join(
        f"{u['kernel_size']}-px window, {u['scales']} scales ({u['n_images']} images)"
        for u in results["metrics"]["ms_ssim_used"]
    )
    not_reported = "; ".join(
        f"{name.upper()} {why}" for name, why in results["metrics"]["not_reported"].items()
    )
    lines = [
        f"{h1} Rate–distortion benchmark",
        "",
        (
            f"- Data: {data['n_images']} images from `{data['root']}`, "
            f"dataset sha256 `{data['sha256']}`"
        ),
        f"- Code: git `{prov['git']['sha']}`"
        + (" (uncommitted changes)" if prov["git"]["dirty"] else ""),
        f"- Run: {prov['timestamp']}, `{prov['command']}`",
        f"- Device: {prov['device']['cpu']} ({prov['device']['cpu_count']} CPUs)"
        + (f", {prov['device']['cuda']}" if prov["device"]["cuda"] else ""),
        f"- Versions: {versions}",
        (
            "- Metrics on 8-bit decoded RGB vs the 8-bit original (piq), bpp from whole-file "
            "bytes (headers included); curves are means over images of per-image values. "
            f"MS-SSIM: {ms_used}. VIF is piq.vif_p; L1/L2 are mean absolute/squared errors "
            "in 8-bit levels."
        ),
        f"- Not reported: {not_reported}.",
        (
            f"- BD-rate: bjontegaard, {BD_METHOD}, log10(bpp), on the mean curves; negative "
            "means fewer bits than the anchor for the same quality. [x %] is the share of the "
            "quality range that both curves cover."
        ),
        "",
    ]
    for metric, label in BD_METRICS.items():
        table = results["bd_rate"][metric]
        anchors = list(next(iter(table.values()), {}))
        lines += [f"{h2} BD-rate, {label}", ""]
        if not anchors:
            lines += [f"No anchor codec ({', '.join(ANCHORS)}) was run.", ""]
            continue
        lines += markdown_table(
            ["codec", *(f"vs {a}" for a in anchors)],
            (
                [test, *(_bd_cell(by_anchor[a]) for a in anchors)]
                for test, by_anchor in table.items()
            ),
        )
        dropped = sorted(
            {
                (codec, q)
                for test, by_anchor in table.items()
                for anchor, r in by_anchor.items()
                for codec, qs in ((anchor, r["anchor_dropped"]), (test, r["test_dropped"]))
                for q in qs
            }
        )
        if dropped:
            lines += [
                "",
                "Dominated points left out: " + ", ".join(f"{c} q{q}" for c, q in dropped) + ".",
            ]
        lines.append("")
    lines += [
        f"{h2} Quality at fixed bpp",
        "",
        ("Interpolated (pchip in log bpp) on each codec's mean curve; — where the bpp is "
        "outside the range the codec's sweep covers."),
        "",
    ]
    lines += markdown_table(
        [
            "codec",
            *(f"{label} @ {rate} bpp" for label in AT_BPP_METRICS.values() for rate in FIXED_BPP),
        ],
        (
            [
                name,
                *(
                    _num(results["at_bpp"][metric][name][str(rate)], ".2f" if metric == "psnr" else ".4f")
                    for metric in AT_BPP_METRICS
                    for rate in FIXED_BPP
                ),
            ]
            for name in results["rd"]
        ),
    )
    lines += ["", f"{h2} Smallest file each codec can produce", ""]
    lines += markdown_table(
        ["codec", "quality", "mean bytes", "bpp", "PSNR dB", "MS-SSIM"],
        (
            [
                name,
                s["quality"],
                f"{s['bytes']:.0f}",
                f"{s['bpp']:.3f}",
                f"{s['psnr']:.2f}",
                f"{s['ms_ssim']:.4f}",
            ]
            for name, s in results["smallest_file"].items()
        ),
    )
    lines.append("")
    for name, points in results["rd"].items():
        if points and "header_bytes" in points[0]:
            lines += [
                f"{h2} {name}: container header overhead",
                "",
                ("Bytes of each file that are container (magic, version, model id, sizes, "
                "stream lengths, checksum), not entropy-coded payload; included in every bpp "
                "above."),
                "",
            ]
            lines += markdown_table(
                ["quality", "mean bytes", "header bytes", "header % of file"],
                (
                    [
                        p["quality"],
                        f"{p['bytes']:.0f}",
                        f"{p['header_bytes']:.1f}",
                        f"{100 * p['header_share']:.1f} %",
                    ]
                    for p in points
                ),
            )
            lines.append("")
    if results["metrics"]["face_masks_found"]:
        lines += [
            (f"{h2} Face region (mask provider `{results['metrics']['face_mask_provider']}`, "
            f"{results['metrics']['face_masks_found']} of {data['n_images']} images)"),
            "",
        ]
        lines += markdown_table(
            ["codec", "quality", "images", "bpp", "PSNR dB", "SSIM", "MS-SSIM", "VIF", "L1", "L2"],
            (
                [
                    name,
                    p["quality"],
                    p["face"]["n_images"],
                    f"{p['bpp']:.3f}",
                    f"{p['face']['psnr']:.2f}",
                    f"{p['face']['ssim']:.4f}",
                    f"{p['face']['ms_ssim']:.4f}",
                    _num(p["face"]["vif"], ".4f"),
                    f"{p['face']['l1']:.2f}",
                    f"{p['face']['l2']:.1f}",
                ]
                for name, points in results["rd"].items()
                for p in points
                if "face" in p
            ),
        )
        lines.append("")
    else:
        lines += [
            (f"Face-region metrics: none (face mask provider "
            f"`{results['metrics']['face_mask_provider']}`)."),
            "",
        ]
    lines += [f"{h2} Rate–distortion points (means over images)", ""]
    for name, points in results["rd"].items():
        settings = ", ".join(f"{k} {v}" for k, v in results["codecs"][name]["settings"].items())
        lines += [f"{h3} {name} ({settings})", ""]
        lines += markdown_table(
            ["quality", "bytes", "bpp", "PSNR dB", "SSIM", "MS-SSIM", "VIF", "L1", "L2"],
            (
                [
                    p["quality"],
                    f"{p['bytes']:.0f}",
                    f"{p['bpp']:.3f}",
                    f"{p['psnr']:.2f}",
                    f"{p['ssim']:.4f}",
                    f"{p['ms_ssim']:.4f}",
                    _num(p["vif"], ".4f"),
                    f"{p['l1']:.2f}",
                    f"{p['l2']:.1f}",
                ]
                for p in points
            ),
        )
        lines.append("")
    if results["skipped"]:
        lines += [f"{h2} Skipped codecs", ""]
        lines += [f"- {name}: {reason}" for name, reason in results["skipped"].items()]
        lines.append("")
    return "\n".join(lines)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.rd",
        description="Rate–distortion benchmark. Encodes and decodes every image of DATA_DIR "
        "with every codec at every quality of its sweep, measures PSNR, SSIM and MS-SSIM on "
        "the 8-bit decoded RGB and bpp from the whole file, and writes OUT/per_image.jsonl "
        "(one line per codec, quality and image; a re-run resumes from it), "
        "OUT/results.json (mean curves, BD-rates vs jpeg/webp/avif, provenance: versions, "
        "git SHA, device, dataset hash) and OUT/summary.md (the tables).",
        epilog="example: python -m bench.rd /work/shared/data/faces/test "
        "--codecs jpeg,webp,avif,nfc -o bench/results/faces --limit 100",
    )
    parser.add_argument(
        "data_dir",
        metavar="DATA_DIR",
        type=Path,
        help=f"folder of lossless source images ({', '.join(IMAGE_SUFFIXES)}); "
        "subfolders are not searched",
    )
    parser.add_argument(
        "--codecs",
        default=",".join(DEFAULT_CODECS),
        help=f"comma-separated codecs, out of {', '.join(codec_names())} "
        f"(default: %(default)s); codecs that cannot run here are skipped and reported",
    )
    parser.add_argument(
        "-o", "--output", required=True, type=Path, metavar="OUT", help="output folder"
    )
    parser.add_argument(
        "--limit",
        type=_positive_int,
        metavar="N",
        help="use only the first N images, sorted by name",
    )
    add_codec_options(parser)
    return parser


def add_codec_options(parser: argparse.ArgumentParser) -> None:
    """--peer-weights and --face-mask, shared with the full benchmark (bench.suite)."""
    parser.add_argument(
        "--peer-weights",
        type=Path,
        metavar="DIR",
        help="folder of CompressAI ScaleHyperprior weights (*.pt, one per quality) for the "
        "compressai-peer codec; without it that codec is skipped with the reason",
    )
    parser.add_argument(
        "--face-mask",
        default=masks.NO_MASKS,
        metavar="MODULE:FUNCTION",
        help="face mask provider for face-region metrics: a function taking the RGB image and "
        "returning an HxW bool mask or None (default: %(default)s, no face metrics)",
    )


def image_files(data_dir: Path) -> list[Path]:
    """The lossless images directly in `data_dir`; ValueError if it is not a folder or has none."""
    if not data_dir.is_dir():
        raise ValueError(f"{data_dir} is not a folder")
    paths = [p for p in data_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    if not paths:
        raise ValueError(f"no {'/'.join(IMAGE_SUFFIXES)} images in {data_dir}")
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        paths = image_files(args.data_dir)
    except ValueError as exc:
        parser.error(str(exc))
    names = [n.strip() for n in args.codecs.split(",") if n.strip()]
    command = ["python", "-m", "bench.rd", *(sys.argv[1:] if argv is None else argv)]
    try:
        run(
            paths,
            names,
            args.output,
            args.limit,
            command=command,
            config=CodecConfig(peer_weights=args.peer_weights),
            face_mask=args.face_mask,
        )
    except (UnknownCodec, StaleResults, masks.UnknownMaskProvider) as exc:
        print(f"bench.rd: error: {exc}", file=sys.stderr)
        return 2
    print((args.output / SUMMARY_FILE).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
