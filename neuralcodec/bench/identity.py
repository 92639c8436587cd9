"""Face identity after decoding: does a face-recognition network still see the same person?

    original RGB --dlib HOG detector--> face box
    original RGB + box --5 landmarks, dlib's ResNet--> 128-d embedding e0
    codec.encode(q) --decode--> RGB + the same box --own landmarks, ResNet--> embedding e1
    distance |e1 - e0|: "same person" when below 0.6, the threshold dlib states for this model

The network is dlib's face-recognition ResNet (99.38 % on LFW at that threshold), with its
weights from the `face-recognition-models` package, so nothing is downloaded at run time.
The face box comes from the original only, so a codec cannot lose a face by making the
detector miss it; the landmarks are found again in the decoded picture, as a recognition
system would. Images in which no face is found are left out and counted. For scale, the
summary also gives the median distance between the originals of different people.

    python -m neuralcodec.bench.identity DATA_DIR --codecs jpeg,avif-s0,nfc -o OUT [--limit N]

writes OUT/identity.jsonl (one line per image, codec and quality) and OUT/identity.md (per
codec and quality: images, bpp, PSNR, share still matched, mean distance; and the same
interpolated at fixed bit rates, so codecs compare at equal size).
"""

import argparse
import importlib.util
import json
import math
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from neuralcodec.bench import metrics
from neuralcodec.bench.codecs import BrokenCodec, Codec, UnknownCodec
from neuralcodec.bench.dataset import dataset, load_rgb
from neuralcodec.bench.rd import resolve_codecs
from neuralcodec.errors import MissingDependency
from neuralcodec.imaging import LOSSLESS_SUFFIXES, image_files

SAME_PERSON_DISTANCE = 0.6
RESULTS_FILE = "identity.jsonl"
SUMMARY_FILE = "identity.md"
SUMMARY_BPP = (0.25, 0.5, 1.0, 2.0)
_EXTRA = "pip install 'neuralcodec[identity]'"


class FaceEmbedder:
    """dlib's HOG face detector, 5-point landmarks and face-recognition ResNet."""

    def __init__(self) -> None:
        try:
            import dlib  # type: ignore[import-not-found]
        except ImportError as exc:
            raise MissingDependency(f"the identity metric needs dlib: {_EXTRA}") from exc
        # The package's own __init__ imports pkg_resources (gone from new setuptools), so its
        # folder is found without importing it.
        spec = importlib.util.find_spec("face_recognition_models")
        if spec is None or not spec.submodule_search_locations:
            raise MissingDependency(f"the identity metric needs face-recognition-models: {_EXTRA}")
        models = Path(next(iter(spec.submodule_search_locations))) / "models"
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._landmarks = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
        self._network = dlib.face_recognition_model_v1(
            str(models / "dlib_face_recognition_resnet_model_v1.dat")
        )

    def find_face(self, rgb: np.ndarray) -> tuple[int, int, int, int] | None:
        """The largest face's box (left, top, right, bottom), or None where none is found."""
        found = list(self._detector(rgb, 1))  # upsampled once: faces in 128x128 crops are small
        if not found:
            return None
        best = max(found, key=lambda r: r.width() * r.height())
        return best.left(), best.top(), best.right(), best.bottom()

    def embed(self, rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        rect = self._dlib.rectangle(*box)
        shape = self._landmarks(rgb, rect)
        return np.asarray(self._network.compute_face_descriptor(rgb, shape), dtype=np.float64)


@dataclass(frozen=True)
class IdentityMeasurement:
    image: str
    codec: str
    quality: int
    bpp: float
    psnr: float
    distance: float

    @property
    def same_person(self) -> bool:
        return self.distance < SAME_PERSON_DISTANCE


@dataclass(frozen=True)
class QualityRow:
    codec: str
    quality: int
    images: int
    bpp: float
    psnr: float
    matched: float  # share of images still matched, 0..1
    distance: float


def _rgb(img: Image.Image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def summarise(measurements: Iterable[IdentityMeasurement]) -> list[QualityRow]:
    """One row per codec and quality, codecs in first-seen order, qualities ascending."""
    groups: dict[tuple[str, int], list[IdentityMeasurement]] = {}
    for m in measurements:
        groups.setdefault((m.codec, m.quality), []).append(m)
    order = list(dict.fromkeys(codec for codec, _ in groups))
    rows = []
    for (codec, quality), ms in sorted(groups.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1])):
        rows.append(
            QualityRow(
                codec,
                quality,
                len(ms),
                float(np.mean([m.bpp for m in ms])),
                float(np.mean([m.psnr for m in ms])),
                float(np.mean([m.same_person for m in ms])),
                float(np.mean([m.distance for m in ms])),
            )
        )
    return rows


def at_bpp(rows: Sequence[QualityRow], codec: str, bpp: float) -> tuple[float, float] | None:
    """(share matched, mean distance) of `codec` at `bpp`, linear in log-bpp between its two
    nearest qualities; None outside the codec's range."""
    points = sorted((r.bpp, r.matched, r.distance) for r in rows if r.codec == codec)
    for (b0, m0, d0), (b1, m1, d1) in zip(points, points[1:], strict=False):
        if b0 <= bpp <= b1 and b1 > b0:
            t = (math.log(bpp) - math.log(b0)) / (math.log(b1) - math.log(b0))
            return m0 + t * (m1 - m0), d0 + t * (d1 - d0)
    return None


def render_summary(rows: Sequence[QualityRow], *, skipped: int, different_people: float | None) -> str:
    codecs = list(dict.fromkeys(r.codec for r in rows))
    lines = [
        "# Face identity after decoding",
        "",
        f"dlib's face-recognition ResNet; same person: embedding distance < {SAME_PERSON_DISTANCE}.",
    ]
    if different_people is not None:
        lines.append(f"Median distance between the originals of different images: {different_people:.3f}.")
    lines.append(f"Images without a detected face, left out: {skipped}.")
    lines += ["", "## At equal bit rate (interpolated in log bpp)", ""]
    lines.append("| codec | " + " | ".join(f"{b:g} bpp: matched, distance" for b in SUMMARY_BPP) + " |")
    lines.append("|---|" + "---|" * len(SUMMARY_BPP))
    for codec in codecs:
        cells = []
        for b in SUMMARY_BPP:
            value = at_bpp(rows, codec, b)
            cells.append("—" if value is None else f"{100 * value[0]:.1f} %, {value[1]:.3f}")
        lines.append(f"| {codec} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Per quality",
        "",
        "| codec | quality | images | bpp | PSNR (dB) | matched | mean distance |",
    ]
    lines.append("|---|---|---|---|---|---|---|")
    for r in rows:
        lines.append(
            f"| {r.codec} | {r.quality} | {r.images} | {r.bpp:.3f} | {r.psnr:.2f} | "
            f"{100 * r.matched:.1f} % | {r.distance:.3f} |"
        )
    return "\n".join(lines) + "\n"


def run(
    image_paths: Iterable[str | os.PathLike],
    codecs: Sequence[Codec],
    out_dir: str | os.PathLike,
    limit: int | None = None,
    embedder: FaceEmbedder | None = None,
) -> list[QualityRow]:
    """Measure every codec and quality on the first `limit` images; writes OUT/identity.jsonl
    and OUT/identity.md and returns the per-quality rows."""
    embedder = embedder or FaceEmbedder()
    images = dataset(image_paths, limit)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    measurements: list[IdentityMeasurement] = []
    originals: list[np.ndarray] = []
    skipped = 0
    total = len(images) * sum(len(c.qualities) for c in codecs)
    with open(out / RESULTS_FILE, "w") as log, tqdm(total=total, unit="enc", desc="identity") as bar:
        for img in images:
            original = load_rgb(img.path)
            pixels = _rgb(original)
            box = embedder.find_face(pixels)
            if box is None:
                skipped += 1
                bar.update(sum(len(c.qualities) for c in codecs))
                continue
            reference = embedder.embed(pixels, box)
            originals.append(reference)
            for codec in codecs:
                for q in codec.qualities:
                    data = codec.encode(original, q)
                    decoded = codec.decode(data)
                    measured = metrics.evaluate(original, decoded, len(data), None)
                    m = IdentityMeasurement(
                        img.name,
                        codec.name,
                        q,
                        measured.bpp,
                        measured.psnr,
                        float(np.linalg.norm(embedder.embed(_rgb(decoded), box) - reference)),
                    )
                    measurements.append(m)
                    log.write(json.dumps(asdict(m)) + "\n")
                    log.flush()
                    bar.update()
    rows = summarise(measurements)
    different = None
    if len(originals) > 1:
        e = np.stack(originals)
        d = np.linalg.norm(e[:, None] - e[None], axis=-1)[np.triu_indices(len(e), 1)]
        different = float(np.median(d))
    (out / SUMMARY_FILE).write_text(render_summary(rows, skipped=skipped, different_people=different))
    return rows


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m neuralcodec.bench.identity",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="Needs the identity extra: " + _EXTRA,
    )
    p.add_argument("data", type=Path, help="folder of face images (lossless formats)")
    p.add_argument("--codecs", default="jpeg,avif-s0,heic,nfc", help="comma-separated codec names")
    p.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    p.add_argument("--limit", type=int, help="only the first N images (sorted by path)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        paths = image_files(args.data, LOSSLESS_SUFFIXES)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        embedder = FaceEmbedder()
        codecs, skipped = resolve_codecs([n.strip() for n in args.codecs.split(",") if n.strip()])
    except MissingDependency as exc:
        print(f"neuralcodec.bench.identity: error: {exc}", file=sys.stderr)
        return 1
    except (UnknownCodec, BrokenCodec) as exc:
        print(f"neuralcodec.bench.identity: error: {exc}", file=sys.stderr)
        return 2
    for name, why in skipped.items():
        print(f"skipped {name}: {why}", file=sys.stderr)
    run(paths, codecs, args.out, args.limit, embedder)
    print((args.out / SUMMARY_FILE).read_text(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
