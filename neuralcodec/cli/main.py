"""``nfc``: encode, decode and inspect .nfc face images.

This module only parses arguments and reports: the work is done by :mod:`neuralcodec.codec`,
one file at a time by :mod:`neuralcodec.cli.coding`, many files by :mod:`neuralcodec.cli.batch`.
Exit codes: 0 success, 1 an input could not be coded (an NfcError or an I/O error) or an
output exists (``-f/--force`` replaces it), 2 bad usage (unknown option, quality level that
does not exist, output = input, unknown output extension). Any other exception is a bug and
keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from dataclasses import asdict
from pathlib import Path

from neuralcodec.cli.coding import (
    STDIO,
    Options,
    UsageError,
    code_file,
    describe,
    ignore_third_party_warnings,
    read_input,
    with_flag,
)
from neuralcodec.errors import InvalidOption

EPILOG = """examples:
  nfc encode face.png -o face.nfc --quality 3
  nfc encode face.png -o face.nfc --size 1500     # the best quality that fits 1,500 bytes
  nfc encode face.png -o face.nfc --roi auto      # more bits on the face, same file size
  nfc decode face.nfc -o face.png
  nfc encode photos/ -r -o nfc/ -j 2               # a whole tree; re-running skips what is done
  nfc decode nfc/*.nfc -o png/
  nfc encode photos/ -r -o nfc/ --engine ray       # the same on Ray: this machine's cores
  nfc encode s3://bucket/faces -r -o s3://bucket/nfc --engine ray --address auto  # a cluster
  nfc encode face.png -o face.nfc --model gan -q 2  # decodes with the realistic (GAN) decoder
  nfc decode face.nfc -o faithful.png --decoder faithful
  nfc info face.nfc
  nfc encode - -o - < face.png > face.nfc
  nfc bench faces/ --codecs nfc,jpeg,webp,avif -o bench/results/faces --limit 20
"""

BENCH_CODECS = "nfc,nfc-gan,jpeg,jpeg444,webp,avif,avif-s0,heic,jxl,compressai-peer"
BENCH_EPILOG = """Writes to OUT: per_image.jsonl (resumable), results.json (curves, BD-rates, provenance),
rd_psnr.png, rd_ms_ssim.png, grid.png (+ grid.json), speed.json and summary.md (everything
as Markdown). bench/RESULTS.md is made from two such folders by bench/make_results.sh.

The benchmark is part of the package (neuralcodec.bench); its libraries (piq, bjontegaard,
pillow-heif, ...) come with pip install 'neuralcodec[bench]'.
"""


def _default_output(source: str, suffix: str) -> str:
    if source == STDIO:
        raise UsageError("-o is required when reading from standard input")
    return str(Path(source).with_suffix(suffix))


def _is_batch(args: argparse.Namespace) -> bool:
    """Several inputs, a folder, or -o naming a folder: code into a folder (cli/batch.py)."""
    out = args.output
    return (
        len(args.input) > 1
        or any(name != STDIO and Path(name).is_dir() for name in args.input)
        or (out not in (None, STDIO) and Path(out).is_dir())
    )


def _code(args: argparse.Namespace, options: Options, suffix: str) -> int:
    if args.engine == "ray":
        return _code_on_ray(args, options)
    if args.address is not None:
        raise UsageError("--address needs --engine ray")
    if not _is_batch(args):
        source = args.input[0]
        outcome = code_file(source, args.output or _default_output(source, suffix), options)
        for warning in () if args.quiet else outcome.warnings:
            print(f"nfc: warning: {warning}", file=sys.stderr)
        if outcome.error is not None:
            print(f"nfc: error: {outcome.error}", file=sys.stderr)
            return 2 if outcome.usage else 1
        if outcome.note and not args.quiet:
            print(outcome.note, file=sys.stderr)
        return 0
    from neuralcodec.cli import batch

    if args.output is None:
        raise UsageError("-o OUTDIR is needed with several inputs or a folder")
    out_dir = Path(args.output)
    if args.output == STDIO or (out_dir.exists() and not out_dir.is_dir()):
        raise UsageError(f"-o {args.output}: several inputs or a folder need an output folder")
    tasks = batch.plan(args.input, out_dir, args.recursive, options.command)
    return batch.run(tasks, options, args.jobs or 1, args.quiet)


#: Encode flags the Ray engine does not take (its workers call compress_batch).
_NOT_ON_RAY = {"target_bytes": "--size", "roi_levels": "--roi-boost"}


def _code_on_ray(args: argparse.Namespace, options: Options) -> int:
    """``--engine ray``: the same inputs, output folder and report as a local batch, coded by
    neuralcodec.distributed (which imports Ray; nothing on the local path does)."""
    for field, flag in _NOT_ON_RAY.items():
        if getattr(options, field) is not None:
            raise UsageError(f"{flag} does not run with --engine ray")
    if args.output is None:
        raise UsageError("-o OUTDIR is needed with --engine ray")
    for name in args.input:
        if name == STDIO:
            raise UsageError("--engine ray reads files and folders, not - (standard input)")
        if Path(name).is_dir() and not args.recursive:
            raise UsageError(f"{name} is a folder: add -r/--recursive to code the files in it")
    out_dir = Path(args.output)
    if args.output == STDIO or ("://" not in args.output and out_dir.exists() and not out_dir.is_dir()):
        raise UsageError(f"-o {args.output}: --engine ray needs an output folder")
    from neuralcodec.distributed import run_cli

    return run_cli(
        options.command,
        args.input,
        args.output,
        quality=options.quality,
        model=options.model,
        roi=options.roi,
        decoder=options.decoder,
        force=options.force,
        recursive=args.recursive,
        jobs=args.jobs,
        address=args.address,
        quiet=args.quiet,
    )


def _check_quality(model: str, quality: int | None) -> None:
    """Refuse a quality the model lacks before any file is read (the catalog needs no torch)."""
    from neuralcodec.models.catalog import spec_for

    spec = spec_for(model)
    if quality is not None and quality not in spec.qualities:
        raise InvalidOption(
            f"model {spec.alias} has no quality {quality}; its qualities are {spec.range_text}",
            option="quality",
        )


def cmd_encode(args: argparse.Namespace) -> int:
    roi = None
    if args.roi is not None:
        from neuralcodec.roi import parse_roi

        roi = parse_roi(args.roi)
    if args.roi_boost is not None and roi is None:
        raise UsageError("--roi-boost needs --roi")
    if args.roi_boost is not None and (args.roi_boost * 4) % 1:
        raise UsageError(f"--roi-boost must be a multiple of 0.25 levels, not {args.roi_boost:g}")
    _check_quality(args.model, args.quality)
    options = Options(
        command="encode",
        force=args.force,
        quality=args.quality,
        model=args.model,
        roi=roi,
        roi_levels=None if args.roi_boost is None else (args.roi_boost, None),  # level offsets
        target_bytes=args.size,
    )
    return _code(args, options, ".nfc")


def cmd_decode(args: argparse.Namespace) -> int:
    return _code(args, Options(command="decode", force=args.force, decoder=args.decoder), ".png")


class _FileFailed(Exception):
    """A command's one file could not be read (exit code 1); the message names it."""


def cmd_info(args: argparse.Namespace) -> int:
    import neuralcodec
    from neuralcodec.errors import NfcError

    try:
        info = neuralcodec.inspect(read_input(args.input))
    except (NfcError, OSError) as exc:
        raise _FileFailed(describe(exc, args.input)) from None
    if args.quiet:
        return 0
    if args.json:
        print(
            json.dumps(
                {
                    **asdict(info),
                    "header_bytes": info.header_bytes,
                    "bpp": info.bpp,
                    "roi_pixels": info.roi_pixels,
                }
            )
        )
        return 0
    print(f"model:    {info.model_id} ({info.model_alias}, {info.decoder} decoder)")
    print(f"quality:  {info.quality}")
    print(f"size:     {info.width}x{info.height}")
    print(f"bytes:    {info.file_bytes} (header {info.header_bytes}, payload {info.payload_bytes})")
    print(f"bpp:      {info.bpp:.4f}")
    if info.roi_cells is not None:
        x, y, w, h = info.roi_pixels
        inside, outside = info.roi_inside_level_offset, info.roi_outside_level_offset
        print(
            f"roi:      {x},{y},{w},{h} px ({info.roi_cells[2]}x{info.roi_cells[3]} latent cells at "
            f"{info.roi_cells[0]},{info.roi_cells[1]}), levels {inside:+g} inside, {outside:+g} outside"
        )
    return 0


def _import_bench_suite():
    """neuralcodec.bench.suite, or a one-line hint when the benchmark's extras are missing."""
    try:
        from neuralcodec.bench import suite
    except ImportError as exc:
        raise UsageError(
            f"nfc bench needs the benchmark extras ({exc.name} is missing): "
            "pip install 'neuralcodec[bench]' (in a checkout: pip install --no-build-isolation -e '.[bench]')"
        ) from None
    return suite


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def cmd_bench(args: argparse.Namespace) -> int:
    suite = _import_bench_suite()
    from neuralcodec.bench.codecs import CodecConfig

    options = suite.SuiteOptions(
        limit=args.limit,
        config=CodecConfig(peer_weights=args.peer_weights),
        face_mask=args.face_mask,
        grid_images=args.grid_images,
        grid_from=args.grid_from,
        grid_bpp=args.grid_bpp,
        measure_speed=not args.no_speed,
        speed_batch=args.speed_batch,
        fresh=args.fresh,
    )
    codecs = [n.strip() for n in args.codecs.split(",") if n.strip()]
    command = ["nfc", *args.argv]
    summary = suite.run(args.data, codecs, args.output, options, command=command)
    if not args.quiet:
        print(summary.read_text())
    return 0


def _models_help() -> str:
    """One line per shipped model: alias, id, qualities, what it is (from the catalog)."""
    from neuralcodec.models.catalog import DEFAULT_MODEL, MODELS

    lines = [
        f"'{s.alias}' ({s.model_id}, qualities {s.range_text}): {s.description}"
        + (" [default]" if s.alias == DEFAULT_MODEL else "")
        for s in MODELS
    ]
    return "; ".join(lines)


def _add_file_flags(command: argparse.ArgumentParser) -> None:
    """The flags encode and decode share: overwriting, folders, workers, engine, quiet."""
    command.add_argument(
        "-f", "--force", action="store_true", help="replace existing outputs (default: never replace one)"
    )
    command.add_argument(
        "-r", "--recursive", action="store_true", help="code the files in folders, and in their sub-folders"
    )
    command.add_argument(
        "-j",
        "--jobs",
        type=_positive_int,
        default=None,
        metavar="N",
        help="worker processes for several files (default 1; with --engine ray: one per CPU of "
        "the cluster); they share the CPU threads",
    )
    command.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="'local': this process, or -j worker processes (the default); 'ray': Ray Data "
        "workers, on this machine or a cluster (pip install 'neuralcodec[ray]'). Same outputs, "
        "skips and exit status; with ray, OUTDIR/_nfc-errors.jsonl lists the failed inputs, and "
        "IN and -o may also be URIs such as s3://bucket/faces",
    )
    command.add_argument(
        "--address",
        metavar="auto|HOST:PORT",
        help="with --engine ray: the Ray cluster to run on ('auto': the one started with "
        "`ray start` on this machine, or ray://HOST:10001); default: a Ray instance started "
        "here for the job",
    )
    command.add_argument(
        "--quiet", action="store_true", help="print errors only: no progress bar, summary or warnings"
    )


def build_parser() -> argparse.ArgumentParser:
    from neuralcodec import __version__
    from neuralcodec.models.catalog import DECODERS, DEFAULT_MODEL, DEFAULT_QUALITY, MODELS, spec_for

    default = spec_for(DEFAULT_MODEL)
    fewer = [f"{s.alias} has {s.range_text}" for s in MODELS if s.default_quality != DEFAULT_QUALITY]
    parser = argparse.ArgumentParser(
        prog="nfc",
        description="Neural face codec: compress face photos to small .nfc files and back.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"nfc {__version__} (default model {default.model_id})"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    enc = sub.add_parser(
        "encode",
        help="image -> .nfc",
        description="Compress images (PNG, JPEG, ...) to .nfc: one file, or many into a folder.",
    )
    enc.add_argument("input", nargs="+", help="image files or folders, or - for standard input")
    enc.add_argument(
        "-o",
        "--output",
        help="output .nfc file, or - for standard output (default: INPUT with .nfc); with several "
        "inputs or a folder: the output folder (created if missing)",
    )
    _add_file_flags(enc)
    rate = enc.add_mutually_exclusive_group()
    rate.add_argument(
        "-q",
        "--quality",
        type=int,
        default=None,
        help=f"quality level, 1 = smallest file, higher = better ({default.alias}: "
        f"{default.range_text}; default: {DEFAULT_QUALITY}, or the model's highest below that"
        + (f": {', '.join(fewer)}" if fewer else "")
        + "; the levels are listed in docs/models.md)",
    )
    rate.add_argument(
        "--size",
        type=_positive_int,
        metavar="BYTES",
        help="instead of --quality: the best quality whose file is at most BYTES long "
        "(the whole .nfc file); exit 2 with the smallest possible size if none fits",
    )
    enc.add_argument("-m", "--model", default=DEFAULT_MODEL, help=f"model alias or id: {_models_help()}")
    enc.add_argument(
        "--roi",
        metavar="auto|X,Y,W,H",
        help="spend more bits inside a region and fewer outside, at about the same file size: "
        "'auto' detects the face (none found: a warning, coded without ROI), or a pixel rectangle",
    )
    enc.add_argument(
        "--roi-boost",
        type=float,
        metavar="LEVELS",
        help="quality levels added inside the ROI, a multiple of 0.25 (default: 2); "
        "the outside level is chosen to keep the file size",
    )
    enc.set_defaults(func=cmd_encode)

    dec = sub.add_parser(
        "decode",
        help=".nfc -> image",
        description="Decode .nfc files to images: one file, or many into a folder.",
    )
    dec.add_argument("input", nargs="+", help=".nfc files or folders, or - for standard input")
    dec.add_argument(
        "-o",
        "--output",
        help="output image; its extension picks the format (default: INPUT with .png; - writes PNG "
        "to standard output); with several inputs or a folder: the output folder, written as PNG",
    )
    _add_file_flags(dec)
    realistic = [f"{s.alias}: qualities {s.range_text}" for s in MODELS if s.decoder == "realistic"]
    dec.add_argument(
        "--decoder",
        choices=DECODERS,
        help="override the decoder the file asks for: 'faithful' (the rate-distortion decoder, "
        f"best PSNR) or 'realistic' (the GAN decoder, sharper; {', '.join(realistic)})",
    )
    dec.set_defaults(func=cmd_decode)

    info = sub.add_parser(
        "info", help="show what an .nfc file holds", description="Show an .nfc file's header."
    )
    info.add_argument("input", help=".nfc file, or - for standard input")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.add_argument(
        "--quiet", action="store_true", help="print nothing: the exit code says whether the file is valid"
    )
    info.set_defaults(func=cmd_info)

    bench = sub.add_parser(
        "bench",
        help="rate-distortion, speed and visual benchmark against JPEG, WebP, AVIF, JPEG XL",
        description="Benchmark nfc against other codecs on a folder of images: RD curves and "
        "BD-rates (PSNR, SSIM, MS-SSIM, VIF, L1, L2 on 8-bit RGB, whole-file bpp), plots, a grid "
        "at matched file size, speed ratios and a Markdown summary.",
        epilog=BENCH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench.add_argument("data", type=Path, metavar="DATA", help="folder of lossless images (PNG, ...)")
    bench.add_argument(
        "--codecs",
        default=BENCH_CODECS,
        help="comma-separated (default: %(default)s); codecs that cannot run here are "
        "skipped with the reason",
    )
    bench.add_argument("-o", "--output", type=Path, required=True, metavar="OUT", help="results folder")
    bench.add_argument(
        "--limit", type=_positive_int, metavar="N", help="only the first N images, sorted by name"
    )
    bench.add_argument(
        "--fresh", action="store_true", help="delete OUT's earlier results first (needed after new weights)"
    )
    bench.add_argument(
        "--peer-weights",
        type=Path,
        metavar="DIR",
        help="CompressAI ScaleHyperprior weights (*.pt, one per quality) for compressai-peer",
    )
    bench.add_argument(
        "--face-mask",
        default="none",
        metavar="MODULE:FUNCTION",
        help="face mask provider for face-region metrics (default: none)",
    )
    bench.add_argument(
        "--grid-images", type=int, default=3, metavar="N", help="rows of the visual grid (default 3)"
    )
    bench.add_argument(
        "--grid-from",
        type=Path,
        metavar="DIR",
        help="folder of the grid's images (default: DATA); e.g. docs/example where "
        "DATA must not be committed, since bench/report.py copies grid.png into bench/img/",
    )
    bench.add_argument(
        "--grid-bpp",
        type=float,
        default=0.25,
        metavar="BPP",
        help="target rate of the visual grid (default 0.25)",
    )
    bench.add_argument("--no-speed", action="store_true", help="skip the speed measurements")
    bench.add_argument("--quiet", action="store_true", help="print nothing (the summary is in OUT)")
    bench.add_argument(
        "--speed-batch",
        type=_positive_int,
        default=16,
        metavar="N",
        help="images per batch for images/s (default 16)",
    )
    bench.set_defaults(func=cmd_bench)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    print(f"nfc: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    # The library (and torch) is imported only now, so that --help and usage errors are instant.
    ignore_third_party_warnings()
    from neuralcodec.errors import NfcError

    warnings.showwarning = _one_line_warning

    try:
        return args.func(args)
    except UsageError as exc:
        parser.exit(2, f"nfc: error: {exc}\n")
    except InvalidOption as exc:
        parser.exit(2, f"nfc: error: {with_flag(exc)}\n")
    except _FileFailed as exc:
        parser.exit(1, f"nfc: error: {exc}\n")
    except NfcError as exc:
        parser.exit(1, f"nfc: error: {exc}\n")
    except OSError as exc:
        detail = f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc)
        parser.exit(1, f"nfc: error: {detail}\n")
    except KeyboardInterrupt:
        parser.exit(130, "nfc: interrupted\n")


if __name__ == "__main__":
    sys.exit(main())
