"""Encode under one CPU setting, decode under another: the bytes and pixels must not change.

    nice -n 15 python -m tools.determinism ../shared/data/faces/test            # all 500 faces
    nice -n 15 python -m tools.determinism ../shared/data/faces/test --limit 20

Each setting runs in its own process (ATEN_CPU_CAPABILITY is read when torch loads):

=================  ====================  =======  ======
setting            ATEN_CPU_CAPABILITY   threads  oneDNN
=================  ====================  =======  ======
best (reference)   the machine's best    2        on
default-kernels    default               2        on
avx2               avx2 (if best>avx2)   2        on
1-thread           best                  1        on
no-onednn          best                  2        off
all-flipped        default               1        off
=================  ====================  =======  ======

The reference process encodes every image and decodes its own files. Every other process
encodes every image (its bytes must equal the reference's) and decodes the reference's files
(its pixels must equal the reference's decode), so each row is checked in both directions
against the reference: encoded there, decoded here, and the other way round through the
byte comparison. The report counts mismatching files per setting, out of all images.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Setting:
    name: str
    capability: str | None  # None: the machine's best
    threads: int
    onednn: bool


def settings(best: str) -> list[Setting]:
    rows = [
        Setting("best", None, 2, True),
        Setting("default-kernels", "default", 2, True),
        Setting("1-thread", None, 1, True),
        Setting("no-onednn", None, 2, False),
        Setting("all-flipped", "default", 1, False),
    ]
    if best.lower() == "avx512":
        rows.insert(2, Setting("avx2", "avx2", 2, True))
    return rows


def best_capability() -> str:
    import torch

    return torch.backends.cpu.get_cpu_capability()


def _worker(setting: Setting, images: list[Path], out: Path, decode_from: Path | None) -> dict:
    """Runs in the setting's process: encode ``images`` into ``out``; decode ``decode_from``."""
    import numpy as np
    import torch

    import neuralcodec

    torch.set_num_threads(setting.threads)
    torch.backends.mkldnn.enabled = setting.onednn
    result: dict = {"capability": torch.backends.cpu.get_cpu_capability(), "encoded": {}, "decoded": {}}
    out.mkdir(parents=True, exist_ok=True)
    for image in images:
        data = neuralcodec.compress(image, quality=neuralcodec.default_quality())
        (out / f"{image.stem}.nfc").write_bytes(data)
        result["encoded"][image.stem] = hashlib.sha256(data).hexdigest()
    for path in sorted((decode_from or out).glob("*.nfc")):
        try:
            pixels = np.asarray(neuralcodec.decompress(path.read_bytes()))
            result["decoded"][path.stem] = hashlib.sha256(pixels.tobytes()).hexdigest()
            np.save(out / f"{path.stem}.decoded.npy", pixels)
        except neuralcodec.NfcError as exc:
            result["decoded"][path.stem] = f"error: {exc}"
    return result


def run_setting(setting: Setting, images: list[Path], out: Path, decode_from: Path | None) -> dict:
    env = dict(os.environ)
    env.pop("ATEN_CPU_CAPABILITY", None)
    if setting.capability is not None:
        env["ATEN_CPU_CAPABILITY"] = setting.capability
    env["OMP_NUM_THREADS"] = str(setting.threads)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as job:
        json.dump(
            {
                "setting": setting.__dict__,
                "images": [str(p) for p in images],
                "out": str(out),
                "decode_from": None if decode_from is None else str(decode_from),
            },
            job,
        )
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tools.determinism", "--worker", job.name],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(job.name)
    result = json.loads(done.stdout.splitlines()[-1])
    if setting.capability is not None and result["capability"].lower() != setting.capability:
        raise RuntimeError(
            f"{setting.name}: asked for {setting.capability}, torch ran {result['capability']}"
        )
    return result


@dataclass(frozen=True)
class Comparison:
    setting: Setting
    capability: str
    images: int
    byte_mismatches: list[str]
    pixel_mismatches: list[str]  # pixels further from the reference's than PIXEL_TOLERANCE
    pixels_within_tolerance: list[str]  # other pixels, but within PIXEL_TOLERANCE


# The float32 synthesis rounds differently under other kernels (ATen vs oneDNN, AVX2 vs
# AVX-512): a decoded value may move by 1, in at most this share of the values. Bytes (and so
# the entropy parameters the decoder derives) must be identical.
PIXEL_TOLERANCE = (1, 0.001)


def _within_tolerance(a: Path, b: Path) -> bool:
    import numpy as np

    x, y = np.load(a).astype(np.int16), np.load(b).astype(np.int16)
    if x.shape != y.shape:
        return False
    difference = np.abs(x - y)
    return bool(difference.max() <= PIXEL_TOLERANCE[0] and np.mean(difference > 0) <= PIXEL_TOLERANCE[1])


def compare(images: list[Path], work: Path) -> list[Comparison]:
    """Run every setting against the reference; one Comparison per non-reference setting."""
    rows = settings(best_capability())
    reference = run_setting(rows[0], images, work / rows[0].name, None)
    comparisons = []
    for setting in rows[1:]:
        result = run_setting(setting, images, work / setting.name, work / rows[0].name)
        other = sorted(k for k, v in reference["decoded"].items() if result["decoded"].get(k) != v)
        close = [
            k
            for k in other
            if not result["decoded"].get(k, "error").startswith("error")
            and _within_tolerance(
                work / rows[0].name / f"{k}.decoded.npy", work / setting.name / f"{k}.decoded.npy"
            )
        ]
        comparisons.append(
            Comparison(
                setting,
                result["capability"],
                len(images),
                sorted(k for k, v in reference["encoded"].items() if result["encoded"].get(k) != v),
                [k for k in other if k not in close],
                close,
            )
        )
    if any(v.startswith("error") for v in reference["decoded"].values()):
        raise RuntimeError("the reference setting cannot decode its own files")
    return comparisons


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", type=Path, nargs="?", help="folder of PNG images")
    parser.add_argument("--limit", type=int, default=None, help="first N images only")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        job = json.loads(args.worker.read_text())
        result = _worker(
            Setting(**job["setting"]),
            [Path(p) for p in job["images"]],
            Path(job["out"]),
            None if job["decode_from"] is None else Path(job["decode_from"]),
        )
        print(json.dumps(result))
        return
    if args.folder is None:
        parser.error("give a folder of images")
    images = sorted(args.folder.glob("*.png"))[: args.limit]
    with tempfile.TemporaryDirectory(prefix="determinism_") as work:
        comparisons = compare(images, Path(work))
    print(f"reference: {best_capability()} kernels, 2 threads, oneDNN on; {len(images)} images")
    failed = False
    for c in comparisons:
        s = c.setting
        print(
            f"{s.name:16s} {c.capability:8s} threads={s.threads} oneDNN={'on' if s.onednn else 'off'}: "
            f"{len(c.byte_mismatches)}/{c.images} files with other bytes, "
            f"{len(c.pixel_mismatches)}/{c.images} with other pixels, "
            f"{len(c.pixels_within_tolerance)}/{c.images} within ±{PIXEL_TOLERANCE[0]} "
            f"on ≤{100 * PIXEL_TOLERANCE[1]:g} % of values"
            + (
                f" (first: {(c.byte_mismatches + c.pixel_mismatches)[0]})"
                if c.byte_mismatches or c.pixel_mismatches
                else ""
            )
        )
        failed |= bool(c.byte_mismatches or c.pixel_mismatches)
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
