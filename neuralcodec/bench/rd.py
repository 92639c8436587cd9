"""Rate–distortion runner: every image x every codec x every quality, with provenance.

    image files --load_rgb--> RGB --codec.encode(q)--> bytes --codec.decode--> RGB
        --metrics.evaluate--> Measurement --> one line of OUT/per_image.jsonl   (bench.store)
    Measurements --aggregate, analyse--> RdAnalysis                          (bench.aggregate)
        --> OUT/results.json (BenchResults, bench.results), OUT/summary.md (bench.summary)

Where a face mask provider is given (bench.masks), it is called once per original image and
every measurement of that image also carries face-region metrics.

Resume: a measurement is written and flushed as soon as it is made, and a re-run skips every
one already present for the same image name and content hash; results of other codec
settings, another face mask provider or an older record format stop the run with
StaleResults. Unknown codecs, unloadable mask providers and required codecs that cannot run
(bench.codecs.BrokenCodec) stop it before any work; optional codecs that cannot run are
skipped and listed with the reason.

    python -m neuralcodec.bench.rd DATA_DIR --codecs jpeg,webp,avif,nfc -o OUT [--limit N]
"""

import argparse
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from neuralcodec.bench import masks, metrics
from neuralcodec.bench.aggregate import BD_RATE_METHOD, aggregate, analyse, ms_ssim_settings_used
from neuralcodec.bench.codecs import (
    DEFAULT_CONFIG,
    BrokenCodec,
    Codec,
    CodecConfig,
    CodecUnavailable,
    HasHeader,
    UnknownCodec,
    codec_names,
    get_codec,
)
from neuralcodec.bench.dataset import dataset, load_rgb
from neuralcodec.bench.provenance import provenance
from neuralcodec.bench.results import BenchResults, CodecRun, MetricsUsed, write_results
from neuralcodec.bench.store import PER_IMAGE_FILE, Measurement, ResultStore, StaleResults
from neuralcodec.bench.summary import render_summary
from neuralcodec.imaging import LOSSLESS_SUFFIXES, image_files

SUMMARY_FILE = "summary.md"
DEFAULT_CODECS = ("jpeg", "webp", "avif", "avif-s0", "heic", "nfc")


def resolve_codecs(
    names: Sequence[str], config: CodecConfig = DEFAULT_CONFIG
) -> tuple[list[Codec], dict[str, str]]:
    """The codecs that can run here, and {name: reason} for the optional ones that cannot.

    Raises UnknownCodec, before building any codec, for a name not in the registry, and
    BrokenCodec for a required codec that cannot run."""
    if not names:
        raise UnknownCodec("no codec given")
    unknown = [name for name in names if name not in codec_names()]
    if unknown:
        get_codec(unknown[0], config)  # raises UnknownCodec, naming the known codecs
    codecs, skipped = [], {}
    for name in dict.fromkeys(names):
        try:
            codecs.append(get_codec(name, config))
        except CodecUnavailable as exc:
            skipped[name] = str(exc)
    return codecs, skipped


def _measure(
    codec: Codec, quality: int, original: Image.Image, face_mask: np.ndarray | None
) -> tuple[metrics.Metrics, int | None]:
    data = codec.encode(original, quality)
    measured = metrics.evaluate(original, codec.decode(data), len(data), face_mask)
    return measured, codec.header_bytes(data) if isinstance(codec, HasHeader) else None


def run(
    image_paths: Iterable[str | os.PathLike],
    codec_names: Sequence[str],
    out_dir: str | os.PathLike,
    limit: int | None = None,
    *,
    command: Sequence[str] | None = None,
    config: CodecConfig = DEFAULT_CONFIG,
    face_mask: str = masks.NO_MASKS,
) -> BenchResults:
    """Benchmark the codecs on the first `limit` images (sorted by path); writes and returns
    results.json's content.

    Raises UnknownCodec, BrokenCodec and UnknownMaskProvider before any work; optional
    codecs that cannot run here are skipped and listed with the reason. `command` is
    recorded as the command line (default: sys.argv); `config` carries codec options.
    """
    codecs, skipped = resolve_codecs(codec_names, config)
    provider = masks.load_mask_provider(face_mask)
    images = dataset(image_paths, limit)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    store = ResultStore(out / PER_IMAGE_FILE)
    store.check_settings(codecs, face_mask)

    done = store.keys()
    total = len(images) * sum(len(c.qualities) for c in codecs)
    todo = [
        [
            (codec, q)
            for codec in codecs
            for q in codec.qualities
            if (codec.name, q, img.name, img.sha256) not in done
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
                    measured, header_bytes = _measure(codec, q, original, mask)
                except Exception as exc:
                    exc.add_note(f"while running {codec.name} at quality {q} on {img.path}")
                    raise
                store.append(
                    Measurement(
                        codec=codec.name,
                        quality=q,
                        image=img.name,
                        image_sha256=img.sha256,
                        settings=dict(codec.settings),
                        face_mask=face_mask,
                        metrics=measured,
                        header_bytes=header_bytes,
                    )
                )
                bar.update()

    measurements = store.of_images((img.name, img.sha256) for img in images)
    results = BenchResults(
        provenance=provenance(sys.argv if command is None else command, images),
        metrics=MetricsUsed(
            definitions=metrics.describe(),
            averaging="arithmetic mean over images of per-image values, per (codec, quality)",
            ms_ssim_used=ms_ssim_settings_used(measurements),
            face_mask_provider=face_mask,
            face_masks_found=len({m.image for m in measurements if m.metrics.face is not None}),
        ),
        bd_rate_method=BD_RATE_METHOD,
        codecs={c.name: CodecRun(dict(c.settings), tuple(c.qualities)) for c in codecs},
        skipped=skipped,
        per_image_file=PER_IMAGE_FILE,
        analysis=analyse(aggregate(measurements, codecs)),
    )
    write_results(results, out)
    (out / SUMMARY_FILE).write_text(render_summary(results))
    return results


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m neuralcodec.bench.rd",
        description="Rate–distortion benchmark. Encodes and decodes every image of DATA_DIR "
        "with every codec at every quality of its sweep, measures PSNR, SSIM and MS-SSIM on "
        "the 8-bit decoded RGB and bpp from the whole file, and writes OUT/per_image.jsonl "
        "(one line per codec, quality and image; a re-run resumes from it), "
        "OUT/results.json (mean curves, BD-rates vs jpeg/webp/avif/avif-s0/heic, provenance: "
        "versions, git SHA, device, dataset hash) and OUT/summary.md (the tables).",
        epilog="example: python -m neuralcodec.bench.rd /work/shared/data/faces/test "
        "--codecs jpeg,webp,avif,nfc -o bench/results/faces --limit 100",
    )
    parser.add_argument(
        "data_dir",
        metavar="DATA_DIR",
        type=Path,
        help=f"folder of lossless source images ({', '.join(LOSSLESS_SUFFIXES)}); "
        "subfolders are not searched",
    )
    parser.add_argument(
        "--codecs",
        default=",".join(DEFAULT_CODECS),
        help=f"comma-separated codecs, out of {', '.join(codec_names())} "
        f"(default: %(default)s); optional codecs that cannot run here are skipped and reported",
    )
    parser.add_argument("-o", "--output", required=True, type=Path, metavar="OUT", help="output folder")
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        paths = image_files(args.data_dir, LOSSLESS_SUFFIXES)
    except ValueError as exc:
        parser.error(str(exc))
    names = [n.strip() for n in args.codecs.split(",") if n.strip()]
    command = ["python", "-m", "neuralcodec.bench.rd", *(sys.argv[1:] if argv is None else argv)]
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
    except (UnknownCodec, BrokenCodec, StaleResults, masks.UnknownMaskProvider) as exc:
        print(f"neuralcodec.bench.rd: error: {exc}", file=sys.stderr)
        return 2
    print((args.output / SUMMARY_FILE).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
