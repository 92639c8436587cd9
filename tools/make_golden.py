"""Write the golden .nfc files of tests/golden/: what today's files must decode to, forever.

For every shipped model id (:data:`neuralcodec.models.catalog.MODELS`) this writes
``tests/golden/<model id>/``: one small .nfc file per case of :func:`cases` (plain files at
the lowest, middle and highest quality, ROI files, an odd size, 1x1, a 512x512 image) and
``manifest.json`` with, per case, how the source image is made, the ``compress`` arguments,
the SHA-256 of the file and of its decoded pixels (per decoder). ``tests/test_golden.py``
decodes every file and re-encodes every source.

Bytes are exact on every machine: encoding and the entropy parameters are bit-identical
across CPU kernels, thread counts and oneDNN on or off (tools/determinism.py). Decoded pixels
are not: the synthesis runs in float32, and another CPU's kernels (AVX-512 vs AVX2, oneDNN
vs ATen) round differently, moving about 1 value in 20,000 by 1. So each case also keeps its
decoded pixels as a lossless PNG (``NAME.DECODER.png``), and the test allows at most that:
every value within 1 of the reference and at most 0.1 % of them off. The SHA-256 of the
pixels records what the writing machine decoded.

The sources are made from the bundled example face (docs/example/face.png) with integer
array operations only (crop, reflect, repeat), so they are the same on every machine.

Regenerating is deliberate and rare: only when a model id is added, or the format version
changes and old files are kept in a new folder. Files of an id never change, so by default
this writes only the ids that have no folder yet::

    python -m tools.make_golden                          # ids without golden files
    python -m tools.make_golden --model face-hyperprior-v3   # that id only (refuses to overwrite)
    python -m tools.make_golden --model ID --overwrite   # replace an id's files: say why in the commit
    python -m tools.make_golden --references             # decoded PNGs that are missing, from the files
"""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
GOLDEN_DIR = ROOT / "tests" / "golden"
EXAMPLE_FACE = ROOT / "docs" / "example" / "face.png"
MANIFEST = "manifest.json"


def example_face() -> np.ndarray:
    """uint8 [128, 128, 3]: the bundled example face."""
    return np.asarray(Image.open(EXAMPLE_FACE).convert("RGB"))


def source_image(name: str) -> np.ndarray:
    """The source image ``name`` (uint8 [H, W, 3]), made from the example face by integer ops."""
    face = example_face()
    if name == "face128":
        return face
    if name == "odd97x131":  # 97 wide, 131 high: neither a multiple of 16 nor of 64
        return np.ascontiguousarray(np.pad(face, ((0, 3), (0, 0), (0, 0)), mode="reflect")[:131, :97])
    if name == "pixel1x1":
        return np.ascontiguousarray(face[64:65, 64:65])
    if name == "face512":
        return np.ascontiguousarray(np.repeat(np.repeat(face, 4, axis=0), 4, axis=1))
    raise ValueError(f"unknown golden source {name!r}")


def face_sha256() -> str:
    return hashlib.sha256(example_face().tobytes()).hexdigest()


@dataclass(frozen=True)
class Case:
    """One golden file: ``compress(source_image(source), **options)``, decoded by ``decoders``."""

    name: str
    source: str
    options: dict
    #: Decoders to check: None is the one the file names; "faithful"/"realistic" overrides.
    decoders: tuple[str | None, ...] = (None,)


def cases(model_id: str) -> list[Case]:
    """The golden cases of one shipped model (by its catalog entry, so a new id gets them too)."""
    from neuralcodec.models.catalog import MODELS, spec_for

    spec = spec_for(model_id)
    qs = spec.qualities
    low, mid, high = qs[0], qs[len(qs) // 2], qs[-1]
    base = {"model": spec.model_id}
    out = [Case(f"q{q}", "face128", {**base, "quality": q}) for q in sorted({low, mid, high})]
    for other in MODELS:  # the family's other decoders, on a quality both cover
        if other.family == spec.family and other.decoder != spec.decoder:
            common = [q for q in qs if q in other.qualities]
            q = common[len(common) // 2]
            decoders = (None, other.decoder)
            out.append(Case(f"q{q}-{other.decoder}", "face128", {**base, "quality": q}, decoders))
    roi = [32, 24, 64, 72]
    out += [
        Case(f"q{mid}-roi", "face128", {**base, "quality": mid, "roi": roi, "roi_levels": [1.0, -0.5]}),
        Case(f"q{mid}-roi-matched", "face128", {**base, "quality": mid, "roi": roi}),
        Case(f"q{mid}-odd97x131", "odd97x131", {**base, "quality": mid}),
        Case(f"q{low}-1x1", "pixel1x1", {**base, "quality": low}),
        Case(f"q{low}-512", "face512", {**base, "quality": low}),
    ]
    return out


def encode(case: Case) -> bytes:
    import neuralcodec

    options = dict(case.options)
    if "roi" in options:
        options["roi"] = tuple(options["roi"])
    if "roi_levels" in options:
        options["roi_levels"] = tuple(options["roi_levels"])
    return neuralcodec.compress(source_image(case.source), **options)


def pixels_sha256(data: bytes, decoder: str | None) -> str:
    """SHA-256 of the decoded RGB pixels (row-major, 3 bytes per pixel)."""
    import neuralcodec

    return hashlib.sha256(neuralcodec.decompress(data, decoder=decoder).tobytes()).hexdigest()


def decoder_key(decoder: str | None) -> str:
    return decoder or "file"


def reference_path(out_dir: Path, case_name: str, decoder: str) -> Path:
    """The lossless PNG of what case ``case_name`` decodes to with ``decoder`` ("file": its own)."""
    return out_dir / f"{case_name}.{decoder}.png"


def decoded(data: bytes, decoder: str | None) -> np.ndarray:
    import neuralcodec

    return np.asarray(neuralcodec.decompress(data, decoder=decoder).convert("RGB"))


def write_references(out_dir: Path) -> int:
    """Write the decoded PNGs that ``out_dir``'s manifest lists and that are missing."""
    manifest = json.loads((out_dir / MANIFEST).read_text())
    written = 0
    for case in manifest["cases"]:
        data = (out_dir / f"{case['name']}.nfc").read_bytes()
        for key in case["pixels_sha256"]:
            path = reference_path(out_dir, case["name"], key)
            if not path.exists():
                Image.fromarray(decoded(data, None if key == "file" else key)).save(path, optimize=True)
                written += 1
    return written


def write_model(model_id: str, out_dir: Path) -> None:
    from neuralcodec.container.spec import VERSION

    out_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for case in cases(model_id):
        data = encode(case)
        (out_dir / f"{case.name}.nfc").write_bytes(data)
        entries.append(
            {
                "name": case.name,
                "source": case.source,
                "options": case.options,
                "file_bytes": len(data),
                "nfc_sha256": hashlib.sha256(data).hexdigest(),
                "pixels_sha256": {decoder_key(d): pixels_sha256(data, d) for d in case.decoders},
            }
        )
    manifest = {
        "model_id": model_id,
        "format_version": VERSION,
        "example_face_sha256": face_sha256(),
        "regenerate": f"python -m tools.make_golden --model {model_id}",
        "cases": entries,
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    write_references(out_dir)
    total = sum(e["file_bytes"] for e in entries)
    print(f"{out_dir}: {len(entries)} files, {total} bytes")


def main() -> None:
    from neuralcodec.models.catalog import MODELS, spec_for

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--model", action="append", help="model id to write (repeatable; default: the ids without files)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing golden files of --model ids")
    p.add_argument("--out", type=Path, default=GOLDEN_DIR)
    p.add_argument(
        "--references", action="store_true", help="only write the missing decoded PNGs of existing ids"
    )
    args = p.parse_args()
    if args.references:
        for folder in sorted(d for d in args.out.iterdir() if (d / MANIFEST).exists()):
            print(f"{folder}: {write_references(folder)} decoded PNGs written")
        return
    if args.model:
        ids = [spec_for(m).model_id for m in args.model]
        existing = [m for m in ids if (args.out / m).exists()]
        if existing and not args.overwrite:
            raise SystemExit(f"error: golden files exist for {', '.join(existing)}; they must not change")
    else:
        ids = [s.model_id for s in MODELS if not (args.out / s.model_id).exists()]
        if not ids:
            print("every shipped model has golden files; nothing to do")
    for model_id in ids:
        write_model(model_id, args.out / model_id)


if __name__ == "__main__":
    main()
