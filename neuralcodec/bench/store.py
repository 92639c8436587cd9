"""per_image.jsonl: one Measurement per (codec, quality, image), written as it is made.

    Measurement --to_json--> one line {record_format, codec, quality, image, image_sha256,
        settings, face_mask, <the fields of metrics.Metrics>, header_bytes}
    per_image.jsonl --ResultStore--> Measurements (a cut last line is dropped)

A line is appended and flushed as soon as it is measured, so a killed run loses at most the
encode in progress, and a re-run skips every (codec, quality, image, image sha256) already
present. Old numbers are never mixed with new ones: records of another RECORD_FORMAT, of
another face mask provider or of other settings of a codec being run raise StaleResults.
Reading a line builds its Measurement at once, so a missing or unknown field fails when the
store is opened, not when the tables are made at the end of the run.
"""

import dataclasses
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from neuralcodec.bench.codecs import Codec
from neuralcodec.bench.metrics import FaceMetrics, Metrics
from neuralcodec.errors import InvalidOption

PER_IMAGE_FILE = "per_image.jsonl"
# Bump when a record gains or changes a field, so that a resume never mixes record formats.
# (Format 2 lines without "header_bytes" are those of codecs without a container header.)
RECORD_FORMAT = 2
_METRIC_FIELDS = tuple(f.name for f in dataclasses.fields(Metrics))


class StaleResults(InvalidOption):
    """out_dir holds results made with other settings of a codec being run."""


MeasurementKey = tuple[str, int, str, str]


@dataclass(frozen=True)
class Measurement:
    """One codec at one quality on one image; `settings` are the codec's fixed settings,
    `header_bytes` the container's share of the file (codecs with bench.codecs.HasHeader)."""

    codec: str
    quality: int
    image: str
    image_sha256: str
    settings: dict[str, Any]
    face_mask: str
    metrics: Metrics
    header_bytes: int | None = None

    @property
    def key(self) -> MeasurementKey:
        return self.codec, self.quality, self.image, self.image_sha256

    def to_json(self) -> dict[str, Any]:
        flat = {"record_format": RECORD_FORMAT, **asdict(self)}
        flat.update(flat.pop("metrics"))
        return flat

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> "Measurement":
        """The Measurement of one line; TypeError for a missing or unknown field."""
        fields = dict(record)
        fields.pop("record_format")
        measured = {name: fields.pop(name) for name in _METRIC_FIELDS if name in fields}
        face = measured.get("face")
        if face is not None:
            measured["face"] = FaceMetrics(**{**face, "box": tuple(face["box"])})
        return cls(**fields, metrics=Metrics(**measured))


class ResultStore:
    """The Measurements of per_image.jsonl, and appending new ones to it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.measurements: list[Measurement] = []
        if not path.exists():
            return
        lines = path.read_text().split("\n")
        if lines[-1]:
            # A run killed mid-write leaves a partial last line; drop it so appends stay valid.
            path.write_text("\n".join(lines[:-1]) + ("\n" if len(lines) > 1 else ""))
        for line in lines[:-1]:
            if line:
                self.measurements.append(self._parse(json.loads(line)))

    def _parse(self, record: dict[str, Any]) -> Measurement:
        if record.get("record_format") != RECORD_FORMAT:
            raise StaleResults(
                f"{self.path} holds records of an older benchmark version (format "
                f"{record.get('record_format', 1)}, now {RECORD_FORMAT}); "
                "use a fresh output directory"
            )
        return Measurement.from_json(record)

    def check_settings(self, codecs: Sequence[Codec], face_mask: str) -> None:
        current = {c.name: json.loads(json.dumps(dict(c.settings))) for c in codecs}
        for m in self.measurements:
            if m.face_mask != face_mask:
                raise StaleResults(
                    f"{self.path} holds results with face masks from {m.face_mask!r}, "
                    f"now {face_mask!r}; use a fresh output directory"
                )
            expected = current.get(m.codec)
            if expected is not None and m.settings != expected:
                raise StaleResults(
                    f"{self.path} holds {m.codec} results made with settings "
                    f"{m.settings}, now {expected}; use a fresh output directory"
                )

    def keys(self) -> set[MeasurementKey]:
        return {m.key for m in self.measurements}

    def append(self, measurement: Measurement) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(measurement.to_json(), allow_nan=False) + "\n")
        self.measurements.append(measurement)

    def of_images(self, images: Iterable[tuple[str, str]]) -> list[Measurement]:
        """The measurements of the given (name, sha256) images."""
        wanted = set(images)
        return [m for m in self.measurements if (m.image, m.image_sha256) in wanted]
