"""Where, when, with what and on which data a benchmark's numbers were made.

    command line, DatasetImages --provenance--> {timestamp, command, git, versions, device,
        dataset}   (a JSON document; results files of bench/ and tools/ embed it as it is)

The dataset is identified by the sha256 of a `sha256sum`-style listing of its files, so two
runs on the same files in another folder have the same hash.
"""

import datetime
import hashlib
import importlib.metadata
import os
import platform
import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import features

from neuralcodec.bench.codecs import avif_codec_versions
from neuralcodec.bench.dataset import DatasetImage, common_folder

REPO_ROOT = Path(__file__).resolve().parents[2]


def _dataset_provenance(images: Sequence[DatasetImage]) -> dict[str, object]:
    listing = "".join(f"{img.sha256}  {img.name}\n" for img in images)
    return {
        "root": str(common_folder(img.path for img in images).resolve()),
        "n_images": len(images),
        "sha256": hashlib.sha256(listing.encode()).hexdigest(),
        "sha256_of": "the `sha256sum`-style listing '<sha256>  <name>\\n' of the sorted files",
        "files": [{"name": img.name, "sha256": img.sha256} for img in images],
    }


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
            "pillow_heif": _package_version("pillow-heif"),
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
