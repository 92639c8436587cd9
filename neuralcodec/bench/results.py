"""results.json: one benchmark run's numbers and provenance, as typed records.

    runner --BenchResults--> to_json --> OUT/results.json
    OUT/results.json --load_results--> BenchResults --> bench.summary, bench.report

The file's top-level keys: provenance (bench.provenance), metrics (bench.metrics.describe()
plus how they were averaged and which MS-SSIM settings and face masks were used),
bd_rate_method, codecs (settings and sweep of each codec run), skipped ({name: reason}),
per_image_file, and the tables of bench.aggregate.RdAnalysis (rd, bd_rate, smallest_file,
best_psnr, at_bpp). Reading keeps only the RD points and re-analyses them, so a results.json
written before a table existed still renders every table.
"""

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from neuralcodec.bench.aggregate import FacePoint, MsSsimUse, RdAnalysis, RdPoint, analyse

RESULTS_FILE = "results.json"


@dataclass(frozen=True)
class MetricsUsed:
    """`definitions` is bench.metrics.describe(); the rest says how this run applied them."""

    definitions: dict[str, Any]
    averaging: str
    ms_ssim_used: tuple[MsSsimUse, ...]
    face_mask_provider: str
    face_masks_found: int


@dataclass(frozen=True)
class CodecRun:
    settings: dict[str, Any]
    qualities: tuple[int, ...]


@dataclass(frozen=True)
class BenchResults:
    provenance: dict[str, Any]
    metrics: MetricsUsed
    bd_rate_method: dict[str, str]
    codecs: dict[str, CodecRun]
    skipped: dict[str, str]
    per_image_file: str
    analysis: RdAnalysis

    def to_json(self) -> dict[str, Any]:
        metrics = asdict(self.metrics)
        return {
            "provenance": self.provenance,
            "metrics": {**metrics.pop("definitions"), **metrics},
            "bd_rate_method": self.bd_rate_method,
            "codecs": {name: asdict(run) for name, run in self.codecs.items()},
            "skipped": self.skipped,
            "per_image_file": self.per_image_file,
            **asdict(self.analysis),
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "BenchResults":
        metrics = dict(doc["metrics"])
        used = {
            "averaging": metrics.pop("averaging"),
            "ms_ssim_used": tuple(MsSsimUse(**u) for u in metrics.pop("ms_ssim_used")),
            "face_mask_provider": metrics.pop("face_mask_provider"),
            "face_masks_found": metrics.pop("face_masks_found"),
        }
        rd = {name: tuple(map(_rd_point, points)) for name, points in doc["rd"].items()}
        return cls(
            provenance=doc["provenance"],
            metrics=MetricsUsed(definitions=metrics, **used),
            bd_rate_method=doc["bd_rate_method"],
            codecs={
                name: CodecRun(run["settings"], tuple(run["qualities"]))
                for name, run in doc["codecs"].items()
            },
            skipped=doc["skipped"],
            per_image_file=doc["per_image_file"],
            analysis=analyse(rd),
        )


def _rd_point(point: dict[str, Any]) -> RdPoint:
    face = point.get("face")
    return RdPoint(**{**point, "face": None if face is None else FacePoint(**face)})


def write_results(results: BenchResults, folder: Path) -> None:
    (folder / RESULTS_FILE).write_text(json.dumps(results.to_json(), indent=2, allow_nan=False) + "\n")


def load_results(folder: Path) -> BenchResults:
    return BenchResults.from_json(json.loads((folder / RESULTS_FILE).read_text()))
