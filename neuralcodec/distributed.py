"""Whole data sets on a Ray cluster, with the codec of one machine (``pip install 'neuralcodec[ray]'``).

::

    driver   SRC --list (pyarrow fs)--> inputs --drop those whose output exists--> pending
             --sweep temporaries of killed writers--> Dataset of (source, output) rows
    workers  one actor per worker, model loaded once, torch threads = its CPUs:
             batch --read files (I/O threads)--> image / .nfc bytes --_encode_images / _decode_images-->
             outputs, each written atomically (files), or one Parquet part per batch
             --> one status row per input (ok, or the error of that input)
    driver   status rows --> progress, DST/_nfc-errors.jsonl (this run's failed inputs) --> JobSummary

Outputs mirror the source tree: ``SRC/a/b.png`` -> ``DST/a/b.nfc`` (and back for decoding), or,
with ``output="parquet"``, rows (path, bytes, width, height, quality) in ``DST/part-*.parquet``.
SRC and DST are local paths, URIs pyarrow knows (``s3://bucket/prefix``, ``gs://...``) or paths
on an explicit ``filesystem`` (any ``pyarrow.fs.FileSystem``).

Ray runs each batch at least once: a worker that dies is restarted and its batch runs again.
Every output has one name that depends only on its input, and appears whole or not at all
(a temporary file and a rename, or a single object-store PUT), so a rerun overwrites instead
of duplicating; the driver keeps one status per input. A corrupt input fails alone: its error
goes to the manifest and the job goes on. Rerunning the same command finishes an interrupted
job: inputs whose output exists are skipped (``force=True`` recodes them).

Ray is imported only here, and only when a job starts; the rest of the package never imports it.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import os
import posixpath
import re
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neuralcodec.errors import InvalidOption, MissingDependency, NfcError
from neuralcodec.models.catalog import DEFAULT_MODEL

if TYPE_CHECKING:
    import pyarrow.fs
    from PIL import Image

#: The manifest of the inputs that failed in the last run, one JSON object a line, in DST. The
#: underscore keeps it out of what Parquet readers (pyarrow, Spark, Ray) take for data files.
MANIFEST_NAME = "_nfc-errors.jsonl"
#: Inputs per worker call: large enough to amortise a Ray task, small enough to spread work.
DEFAULT_BATCH_SIZE = 16
#: Threads a worker reads and writes a batch's files with (I/O bound: object-store latency).
IO_THREADS = 8
#: Filesystems whose writes appear whole or not at all (an object is visible once uploaded),
#: so outputs are written in place instead of through a temporary name and a copy.
ATOMIC_PUT_FILESYSTEMS = ("s3", "gcs")
#: Suffixes of the inputs of :func:`encode_dataset` (those of :mod:`neuralcodec.imaging`).
ENCODE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".webp")
PARQUET_COLUMNS = ("path", "bytes", "width", "height", "quality")

# A writer's temporary: ".{name}.{token}.tmp" next to {name}, as files.write_atomic names them.
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]+\.tmp$")


@dataclass(frozen=True)
class FileError:
    """An input that could not be coded: its path (as listed), the error class and message."""

    source: str
    error: str
    message: str


@dataclass(frozen=True)
class JobSummary:
    """What one :func:`encode_dataset` / :func:`decode_dataset` run did."""

    inputs: int  # found under SRC
    written: int
    skipped: int  # their output existed already
    failed: tuple[FileError, ...]
    seconds: float
    workers: int  # worker processes that returned results
    threads_per_worker: int  # torch threads each worker ran with
    manifest: str  # path of DST/_nfc-errors.jsonl

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass(frozen=True)
class _Run:
    """How a job runs, whichever its direction: the options shared by both functions."""

    filesystem: Any  # pyarrow.fs.FileSystem | None
    recursive: bool
    force: bool
    num_cpus: float
    concurrency: int | tuple[int, int] | None
    batch_size: int
    address: str | None
    progress: bool


@dataclass(frozen=True)
class _Job:
    """One direction's fixed parts: what inputs are, how outputs are named, the worker."""

    suffixes: tuple[str, ...]
    output_suffix: str
    worker: type
    worker_options: dict


def encode_dataset(
    src: str | Sequence[str],
    dst: str,
    *,
    quality: int | None = None,
    model: str = DEFAULT_MODEL,
    roi: str | tuple[int, int, int, int] | None = None,
    output: str = "files",
    filesystem: pyarrow.fs.FileSystem | None = None,
    recursive: bool = True,
    force: bool = False,
    num_cpus: float = 1,
    concurrency: int | tuple[int, int] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    address: str | None = None,
    progress: bool = False,
) -> JobSummary:
    """Encode every image under ``src`` to ``dst`` on Ray: one ``.nfc`` per image, tree mirrored.

    ``src``: a folder, an image, or several of them (a folder's tree goes under ``dst`` as it
    is; a file goes to ``dst`` by its name). ``quality``, ``model``, ``roi``: as for
    :func:`neuralcodec.compress`; the files are the bytes it gives for the same images.
    ``output="parquet"``: instead of files, ``dst/part-*.parquet`` with rows (path relative to
    its source root, bytes, width, height, quality).
    ``filesystem``: a ``pyarrow.fs.FileSystem`` that ``src`` and ``dst`` are paths on (default:
    local paths, or the filesystem of a URI such as ``s3://bucket/faces``).
    ``num_cpus``: CPUs per worker, and its torch threads; ``concurrency``: workers (default: as
    many as the cluster's CPUs hold), or (min, max) to let Ray scale the pool.
    ``address``: the Ray cluster (``"auto"``, ``"HOST:PORT"``, ``"ray://HOST:10001"``); None
    joins the one this process is connected to, or starts one on this machine.

    Per-input failures (unreadable or corrupt images, an ROI outside an image) are in the
    summary and in ``dst/_nfc-errors.jsonl``; InvalidOption for options that fit no input.
    """
    from neuralcodec.info import checked_quality
    from neuralcodec.roi import parse_roi

    if output not in ("files", "parquet"):
        raise InvalidOption(f"output must be 'files' or 'parquet', not {output!r}")
    quality = checked_quality(quality, model)
    if isinstance(roi, str):
        roi = parse_roi(roi)
    options = dict(quality=quality, model=model, roi=roi, output=output)
    job = _Job(ENCODE_SUFFIXES, ".nfc", _EncodeWorker, options)
    run = _Run(filesystem, recursive, force, num_cpus, concurrency, batch_size, address, progress)
    return _run(job, src, dst, run)


def decode_dataset(
    src: str | Sequence[str],
    dst: str,
    *,
    image_format: str = "png",
    decoder: str | None = None,
    filesystem: pyarrow.fs.FileSystem | None = None,
    recursive: bool = True,
    force: bool = False,
    num_cpus: float = 1,
    concurrency: int | tuple[int, int] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    address: str | None = None,
    progress: bool = False,
) -> JobSummary:
    """Decode every ``.nfc`` under ``src`` to an image in ``dst`` (``image_format``: its suffix).

    ``decoder`` as for :func:`neuralcodec.decompress`; the other options as for
    :func:`encode_dataset`. Damaged files (any NfcError) fail alone, into the manifest.
    """
    from PIL import Image

    suffix = "." + image_format.lower().lstrip(".")
    if suffix not in Image.registered_extensions():
        raise InvalidOption(f"no image format with the suffix {suffix}")
    job = _Job((".nfc",), suffix, _DecodeWorker, dict(decoder=decoder))
    run = _Run(filesystem, recursive, force, num_cpus, concurrency, batch_size, address, progress)
    return _run(job, src, dst, run)


# --- the driver ---------------------------------------------------------------


def _run(job: _Job, src, dst, run: _Run) -> JobSummary:
    start = time.perf_counter()
    _require_ray()
    if isinstance(run.batch_size, bool) or not isinstance(run.batch_size, int) or run.batch_size < 1:
        raise InvalidOption(f"batch_size must be a positive integer, not {run.batch_size!r}")
    if not run.num_cpus > 0:
        raise InvalidOption(f"num_cpus must be positive, not {run.num_cpus!r}")
    fs, dst_root = _resolve(dst, run.filesystem)
    parquet = job.worker_options.get("output") == "parquet"
    sources = [_resolve(s, run.filesystem) for s in ([src] if isinstance(src, (str, os.PathLike)) else src)]
    pairs = _list_inputs(sources, dst_root, job, run.recursive, parquet)
    existing = _list_tree(fs, dst_root)
    _sweep_temporaries(fs, existing)
    if parquet:
        parts = [p for p in existing if _is_part(p)]
        if run.force:
            for part in parts:
                fs.delete_file(part)
        done = set() if run.force else _parquet_paths(fs, parts)
        pending = [(s, o) for s, o in pairs if o not in done]
    else:
        pending = pairs if run.force else [(s, o) for s, o in pairs if o not in existing]

    statuses: dict[str, dict] = {}
    if pending:
        statuses = _execute(job, run, sources[0][0], fs, dst_root, pending)
        _sweep_temporaries(fs, _list_tree(fs, dst_root))
    failed = tuple(
        FileError(source, s["error"], s["message"]) for source, s in sorted(statuses.items()) if not s["ok"]
    )
    manifest = posixpath.join(dst_root, MANIFEST_NAME)
    lines = "".join(
        json.dumps({"source": e.source, "error": e.error, "message": e.message}) + "\n" for e in failed
    )
    _write_atomic(fs, manifest, lines.encode())
    ok = [s for s in statuses.values() if s["ok"]]
    return JobSummary(
        inputs=len(pairs),
        written=len(ok),
        skipped=len(pairs) - len(pending),
        failed=failed,
        seconds=time.perf_counter() - start,
        workers=len({s["pid"] for s in statuses.values()}),
        threads_per_worker=max((s["threads"] for s in statuses.values()), default=0),
        manifest=manifest,
    )


def _execute(
    job: _Job, run: _Run, src_fs, fs, dst_root: str, pending: list[tuple[str, str]]
) -> dict[str, dict]:
    """Run the workers over ``pending`` (source, output) pairs: one status per source."""
    ray = _connect(run.address)
    from ray.data import ActorPoolStrategy, DataContext

    context = DataContext.get_current()
    context.enable_progress_bars = False  # one bar (ours), counting inputs
    context.print_on_execution_start = False
    concurrency = run.concurrency
    if concurrency is None:
        concurrency = max(1, int(ray.cluster_resources().get("CPU", 1) // run.num_cpus))
    items = [{"source": s, "output": o} for s, o in pending]
    blocks = min(len(items), math.ceil(len(items) / run.batch_size))
    if isinstance(concurrency, tuple):
        pool = ActorPoolStrategy(min_size=min(concurrency[0], blocks), max_size=concurrency[1])
    else:
        pool = ActorPoolStrategy(size=min(concurrency, blocks))  # more workers than batches would idle
    threads = max(1, int(run.num_cpus))
    results = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
        job.worker,
        fn_constructor_kwargs=dict(
            src_filesystem=src_fs, filesystem=fs, dst_root=dst_root, threads=threads, **job.worker_options
        ),
        batch_size=run.batch_size,
        batch_format="numpy",
        compute=pool,
        num_cpus=run.num_cpus,
    )
    statuses: dict[str, dict] = {}
    bar = _progress_bar(len(items), run.progress)
    for batch in results.iter_batches(batch_size=None, batch_format="numpy"):
        rows = [dict(zip(batch, values, strict=True)) for values in zip(*batch.values(), strict=True)]
        for row in rows:
            # A batch that ran twice (its worker died after reporting) reports its inputs twice.
            statuses[str(row["source"])] = {k: _plain(v) for k, v in row.items()}
        bar(len(rows))
    bar(0, close=True)
    return statuses


def _require_ray() -> None:
    """MissingDependency naming the extra, before any work, where Ray Data or pyarrow is missing."""
    try:
        import pyarrow.fs  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise MissingDependency(
            f"the Ray engine needs Ray Data ({exc.name or 'ray'} cannot be imported): "
            "pip install 'neuralcodec[ray]'"
        ) from exc


def _connect(address: str | None):
    import ray

    if not ray.is_initialized():
        # A cluster started here for this job needs no dashboard; a remote one has its own.
        ray.init(
            address=address,
            logging_level=logging.WARNING,
            include_dashboard=False if address is None else None,
        )
    return ray


def _progress_bar(total: int, show: bool) -> Callable[..., None]:
    if not show:
        return lambda n, close=False: None
    from tqdm import tqdm

    bar = tqdm(total=total, unit="file", file=sys.stderr)

    def update(n: int, close: bool = False) -> None:
        bar.update(n)
        if close:
            bar.close()

    return update


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _resolve(path: str | os.PathLike, filesystem) -> tuple[pyarrow.fs.FileSystem, str]:
    """``path`` -> (filesystem, path on it): a URI's own filesystem, or local, or ``filesystem``."""
    import pyarrow.fs

    text = os.fspath(path)
    if filesystem is not None:
        return filesystem, text.rstrip("/") or "/"
    if "://" in text:
        try:
            fs, inner = pyarrow.fs.FileSystem.from_uri(text)
        except (pyarrow.ArrowInvalid, OSError) as exc:
            raise InvalidOption(f"{text}: {exc}") from None
        return fs, inner.rstrip("/")
    return pyarrow.fs.LocalFileSystem(), os.path.abspath(text)


def _list_inputs(sources, dst_root, job: _Job, recursive: bool, parquet: bool) -> list[tuple[str, str]]:
    """(source path, output path) of every input; for Parquet the output is the row's ``path``."""
    import pyarrow.fs

    pairs: dict[str, str] = {}
    outputs: set[str] = set()
    for src_fs, root in sources:
        if src_fs is not sources[0][0] and src_fs.type_name != sources[0][0].type_name:
            raise InvalidOption(f"{root} is on another filesystem than {sources[0][1]}")
        info = src_fs.get_file_info(root)
        if info.type == pyarrow.fs.FileType.File:
            names = [(root, posixpath.basename(root))]
        elif info.type == pyarrow.fs.FileType.Directory:
            selector = pyarrow.fs.FileSelector(root, recursive=recursive)
            names = [
                (i.path, posixpath.relpath(i.path, root))
                for i in src_fs.get_file_info(selector)
                if i.type == pyarrow.fs.FileType.File
                and i.path.lower().endswith(job.suffixes)
                and not i.base_name.startswith(".")
            ]
        else:
            raise InvalidOption(f"{root}: no such file or folder")
        for path, relative in names:
            output = (
                relative if parquet else posixpath.join(dst_root, _with_suffix(relative, job.output_suffix))
            )
            if output in outputs:
                raise InvalidOption(f"{path} and another input would both be written to {output}")
            pairs[path] = output
            outputs.add(output)
    if not pairs:
        raise InvalidOption(f"no {'/'.join(job.suffixes)} files in {', '.join(r for _, r in sources)}")
    return sorted(pairs.items())


def _with_suffix(relative: str, suffix: str) -> str:
    stem, _ = posixpath.splitext(relative)
    return stem + suffix


def _list_tree(fs, root: str) -> set[str]:
    """Every file under ``root`` (none where it does not exist yet)."""
    import pyarrow.fs

    selector = pyarrow.fs.FileSelector(root, recursive=True, allow_not_found=True)
    return {i.path for i in fs.get_file_info(selector) if i.type == pyarrow.fs.FileType.File}


def _sweep_temporaries(fs, paths: set[str]) -> None:
    """Delete the temporaries that writers killed mid-write left (the outputs they were for
    are rewritten by the batch's rerun, or by the next run)."""
    for path in paths:
        match = _TEMPORARY.match(posixpath.basename(path))
        if match and match["name"].endswith((".nfc", ".parquet", MANIFEST_NAME, *ENCODE_SUFFIXES)):
            try:
                fs.delete_file(path)
            except FileNotFoundError:
                pass  # a concurrent sweep got it first


def _is_part(path: str) -> bool:
    name = posixpath.basename(path)
    return name.startswith("part-") and name.endswith(".parquet")


def _parquet_paths(fs, parts: list[str]) -> set[str]:
    """The ``path`` column of Parquet parts: the inputs they already hold."""
    import pyarrow.parquet as pq

    done: set[str] = set()
    for part in parts:
        done.update(pq.read_table(part, columns=["path"], filesystem=fs).column("path").to_pylist())
    return done


def _write_atomic(fs, path: str, data: bytes) -> None:
    """Write ``path`` so that readers (and reruns) see the whole file or nothing."""
    import pyarrow.fs

    from neuralcodec import files

    if isinstance(fs, pyarrow.fs.LocalFileSystem):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        files.write_atomic(Path(path), data)
        return
    if fs.type_name in ATOMIC_PUT_FILESYSTEMS:
        with fs.open_output_stream(path) as f:
            f.write(data)
        return
    parent, name = posixpath.split(path)
    fs.create_dir(parent, recursive=True)
    temporary = posixpath.join(parent, f".{name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with fs.open_output_stream(temporary) as f:
            f.write(data)
        fs.move(temporary, path)
    except BaseException:
        try:
            fs.delete_file(temporary)
        except OSError:
            pass  # never written, or the filesystem is gone: the next run sweeps it
        raise


def _read(fs, path: str) -> Any:  # bytes, or the OSError that reading raised
    try:
        with fs.open_input_stream(path) as f:
            return f.read()
    except OSError as exc:
        return exc


# --- the workers --------------------------------------------------------------


def _encode_images(images: list, quality: int, model: str, roi) -> list[bytes]:
    """The .nfc bytes of each image (uint8 [H, W, 3] arrays), in order: a batch's one call
    into the codec. Raises the first image's NfcError / InvalidOption."""
    import neuralcodec

    return neuralcodec.compress_batch(images, quality=quality, model=model, roi=roi)


def _decode_images(files: list[bytes], decoder: str | None) -> list[Image.Image]:
    """The decoded images of .nfc files, in order; raises the first file's NfcError."""
    import neuralcodec

    return neuralcodec.decompress_batch(files, decoder=decoder)


def _isolating(code: Callable[[list], list], items: list) -> list:
    """``code(items)``, or where that raises, item by item: a failed item gives its error."""
    try:
        return code(items)
    except (NfcError, InvalidOption):
        results = []
        for item in items:
            try:
                results.extend(code([item]))
            except (NfcError, InvalidOption) as exc:
                results.append(exc)
        return results


class _Worker:
    """A Ray Data actor: filesystem, torch threads and model set up once, then batches.

    ``__call__`` takes a batch of (source, output) and returns one status row per source.
    """

    def __init__(self, src_filesystem, filesystem, dst_root: str, threads: int) -> None:
        import torch

        # What the CLI hides too: CompressAI's import trips a torch deprecation warning.
        warnings.filterwarnings(
            "ignore", message=r".*torch\.jit\.script.* is deprecated", category=FutureWarning
        )
        torch.set_num_threads(threads)  # its CPU share: N workers on N cores do not oversubscribe
        from neuralcodec.codec import set_threads

        set_threads(threads)  # and every coding call keeps to it, whatever the image size
        self.src_fs = src_filesystem
        self.fs = filesystem
        self.dst_root = dst_root
        self.threads = threads
        self.io = ThreadPoolExecutor(IO_THREADS)

    def code(self, contents: list[bytes]) -> list:
        """Output bytes (or the error) of each input's bytes."""
        raise NotImplementedError

    def write(self, sources: list[str], outputs: list[str], results: list) -> list:
        def write_one(output: str, result):
            if isinstance(result, Exception):
                return result
            try:
                _write_atomic(self.fs, output, result)
            except OSError as exc:
                return exc
            return None

        return list(self.io.map(write_one, outputs, results))

    def __call__(self, batch: dict) -> dict:
        sources = [str(s) for s in batch["source"]]
        outputs = [str(o) for o in batch["output"]]
        contents = list(self.io.map(lambda s: _read(self.src_fs, s), sources))
        readable = [i for i, c in enumerate(contents) if not isinstance(c, Exception)]
        results: list = list(contents)
        for i, coded in zip(readable, self.code([contents[i] for i in readable]), strict=True):
            results[i] = coded
        errors = self.write(sources, outputs, results)
        return {
            "source": sources,
            "ok": [e is None for e in errors],
            "error": ["" if e is None else type(e).__name__ for e in errors],
            "message": ["" if e is None else str(e) for e in errors],
            "pid": [os.getpid()] * len(sources),
            "threads": [self.threads] * len(sources),
        }


class _EncodeWorker(_Worker):
    def __init__(self, src_filesystem, filesystem, dst_root: str, threads: int, quality, model, roi, output):
        super().__init__(src_filesystem, filesystem, dst_root, threads)
        from neuralcodec.models.catalog import spec_for
        from neuralcodec.models.registry import load_model

        load_model(spec_for(model).alias)  # once per worker, before the first batch
        self.quality, self.model, self.roi, self.output = quality, model, roi, output
        self.sizes: dict[int, tuple[int, int]] = {}  # (height, width) of the batch's images, by index

    def code(self, contents: list[bytes]) -> list:
        from neuralcodec import imaging

        images: list = []
        for data in contents:
            try:
                images.append(imaging.load_rgb(data))
            except NfcError as exc:
                images.append(exc)
        decoded = [i for i, img in enumerate(images) if not isinstance(img, Exception)]
        encoded = _isolating(
            lambda batch: _encode_images(batch, self.quality, self.model, self.roi),
            [images[i] for i in decoded],
        )
        self.sizes = {i: images[i].shape[:2] for i in decoded}
        results: list = list(images)
        for i, data in zip(decoded, encoded, strict=True):
            results[i] = data
        return results

    def write(self, sources: list[str], outputs: list[str], results: list) -> list:
        if self.output == "files":
            return super().write(sources, outputs, results)
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = [i for i, r in enumerate(results) if not isinstance(r, Exception)]
        table = pa.table(
            {
                "path": [outputs[i] for i in rows],
                "bytes": pa.array([results[i] for i in rows], type=pa.binary()),
                "width": pa.array([self.sizes[i][1] for i in rows], type=pa.int32()),
                "height": pa.array([self.sizes[i][0] for i in rows], type=pa.int32()),
                "quality": pa.array([self.quality] * len(rows), type=pa.int8()),
            }
        )
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        # Named by its inputs: a batch that runs again replaces its part instead of adding one.
        key = hashlib.sha256("\n".join(sources).encode()).hexdigest()[:24]
        try:
            if rows:
                _write_atomic(
                    self.fs, posixpath.join(self.dst_root, f"part-{key}.parquet"), buffer.getvalue()
                )
        except OSError as exc:
            return [r if isinstance(r, Exception) else exc for r in results]
        return [r if isinstance(r, Exception) else None for r in results]


class _DecodeWorker(_Worker):
    def __init__(self, src_filesystem, filesystem, dst_root: str, threads: int, decoder: str | None):
        super().__init__(src_filesystem, filesystem, dst_root, threads)
        self.decoder = decoder

    def code(self, contents: list[bytes]) -> list:
        return _isolating(lambda batch: _decode_images(batch, self.decoder), contents)

    def write(self, sources: list[str], outputs: list[str], results: list) -> list:
        from neuralcodec.imaging import encode_image_file

        files: list = []
        for output, result in zip(outputs, results, strict=True):
            try:
                files.append(result if isinstance(result, Exception) else encode_image_file(result, output))
            except NfcError as exc:
                files.append(exc)
        return super().write(sources, outputs, files)


# --- the command line -----------------------------------------------------------

#: Failed inputs listed on stderr; the manifest has them all.
CLI_ERRORS_SHOWN = 20


def run_cli(
    command: str,
    inputs: str | Sequence[str],
    output: str,
    *,
    quality: int | None = None,
    model: str = DEFAULT_MODEL,
    roi: str | tuple[int, int, int, int] | None = None,
    decoder: str | None = None,
    image_format: str = "png",
    force: bool = False,
    recursive: bool = False,
    jobs: int | None = None,
    address: str | None = None,
    quiet: bool = False,
) -> int:
    """``nfc encode|decode IN... -o DST --engine ray [--address A]``: run the job and report.

    Shows progress (on a terminal) and each failed input on stderr, then one summary line
    (``quiet``: the failures only). Returns the exit status: 0 when every input was written
    or skipped, 1 when some failed (they are in DST/_nfc-errors.jsonl). InvalidOption (exit 2)
    for options that fit no input; MissingDependency (exit 1), naming the ``ray`` extra, when
    Ray Data is not installed. ``jobs``: workers (None: one per CPU of the cluster).
    """
    progress = not quiet and sys.stderr.isatty()
    if command == "encode":
        summary = encode_dataset(
            inputs,
            output,
            quality=quality,
            model=model,
            roi=roi,
            force=force,
            recursive=recursive,
            concurrency=jobs,
            address=address,
            progress=progress,
        )
    elif command == "decode":
        summary = decode_dataset(
            inputs,
            output,
            decoder=decoder,
            image_format=image_format,
            force=force,
            recursive=recursive,
            concurrency=jobs,
            address=address,
            progress=progress,
        )
    else:
        raise InvalidOption(f"the Ray engine runs encode and decode, not {command!r}")
    for failure in summary.failed[:CLI_ERRORS_SHOWN]:
        print(f"nfc: error: {failure.source}: {failure.message}", file=sys.stderr)
    if len(summary.failed) > CLI_ERRORS_SHOWN:
        print(f"nfc: ... and {len(summary.failed) - CLI_ERRORS_SHOWN} more", file=sys.stderr)
    if not quiet:
        where = f" (listed in {summary.manifest})" if summary.failed else ""
        print(
            f"nfc: {summary.written} written, {summary.skipped} skipped, {len(summary.failed)} failed"
            f"{where}; {summary.seconds:.1f} s on {summary.workers} Ray worker(s)",
            file=sys.stderr,
        )
    return 1 if summary.failed else 0
