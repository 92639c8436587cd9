"""Many files in one ``nfc encode`` / ``nfc decode`` call.

::

    IN... (files, folders with -r) --plan--> tasks (source -> OUTDIR/relative name)
        --existing complete output? skip (resumable) unless --force
        --code_file, in this process (-j 1) or in N worker processes--> outcomes
        --> progress bar (on a terminal), one line per failure, a summary; exit 1 if any failed

A worker imports the codec and loads the model once, then codes file after file; each gets
an equal share of the CPU threads, so that N workers do not oversubscribe the cores. Outputs
are written atomically, so an existing output is complete: a killed run leaves at most hidden
``.NAME.PID_*.tmp`` files, which no run takes for outputs and the next run removes
(files.remove_stale_temporaries).
Two runs writing the same outputs at once do not fail each other: an output that another
process completes first counts as skipped.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from neuralcodec.cli.coding import STDIO, Options, Outcome, UsageError, code_file, ignore_third_party_warnings

#: The suffix of an output, by command (a batch decodes to PNG).
OUTPUT_SUFFIX = {"encode": ".nfc", "decode": ".png"}


@dataclass(frozen=True)
class Task:
    """One file of a batch: where it comes from and where its output goes."""

    source: Path
    output: Path


def plan(inputs: list[str], out_dir: Path, recursive: bool, command: str) -> list[Task]:
    """Inputs -> tasks: a file goes to ``OUTDIR/NAME``, a folder's files (with ``recursive``)
    to the same place under ``OUTDIR`` as under the folder. UsageError for ``-``, a folder
    without ``recursive``, two inputs with one output, or nothing to do."""
    suffix = OUTPUT_SUFFIX[command]
    tasks: list[Task] = []
    for name in inputs:
        if name == STDIO:
            raise UsageError("- (standard input) cannot be one of several inputs")
        path = Path(name)
        if path.is_dir():
            if not recursive:
                raise UsageError(f"{name} is a folder: add -r/--recursive to code the files in it")
            tasks += [
                Task(f, out_dir / f.relative_to(path).with_suffix(suffix)) for f in _walk(path, command)
            ]
        else:
            tasks.append(Task(path, out_dir / path.with_suffix(suffix).name))
    if not tasks:
        wanted = "image" if command == "encode" else ".nfc"
        raise UsageError(f"no {wanted} files in {', '.join(inputs)}")
    seen: dict[str, Path] = {}
    for task in tasks:
        key = os.path.normpath(task.output)
        if key in seen:
            raise UsageError(f"{seen[key]} and {task.source} would both be written to {task.output}")
        seen[key] = task.source
    return tasks


def _walk(folder: Path, command: str) -> Iterator[Path]:
    """The files to code under ``folder``, sorted, hidden files and folders left out."""
    wanted = _image_suffixes() if command == "encode" else {".nfc"}
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and Path(name).suffix.lower() in wanted:
                yield Path(root) / name


def _image_suffixes() -> set[str]:
    from PIL import Image

    return {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN and ext != ".nfc"}


def _complete(path: Path, command: str) -> bool:
    """Whether ``path`` holds a whole output of ``command`` (a valid .nfc file or image)."""
    try:
        if command == "encode":
            from neuralcodec.container import unpack

            unpack(path.read_bytes())
        else:
            from PIL import Image

            with Image.open(path) as img:
                img.verify()
    except Exception:  # any reason it cannot be read means: not a finished output
        return False
    return True


def run(tasks: list[Task], options: Options, jobs: int, quiet: bool) -> int:
    """Code ``tasks``, report, and return the exit code (1 if any file failed)."""
    from neuralcodec.files import is_same_file, remove_stale_temporaries

    todo: list[Task] = []
    failures = skipped = 0
    report = _Report(quiet)
    for task in tasks:
        error = None
        if os.path.lexists(task.output):
            if is_same_file(task.source, task.output):
                error = f"refusing to overwrite the input file {task.source}"
            elif not options.force:
                if _complete(task.output, options.command):
                    skipped += 1
                    continue
                what = ".nfc file" if options.command == "encode" else "image"
                error = f"{task.output} exists but is not a complete {what}; -f/--force replaces it"
        if error is None:
            try:
                task.output.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                error = f"{task.output}: cannot create its folder ({exc.strerror or exc})"
        if error is None:
            todo.append(task)
        else:
            failures += 1
            report.line(f"nfc: error: {error}")
    for folder in sorted({task.output.parent for task in todo}):
        remove_stale_temporaries(folder)  # what writers killed mid-write left here
    by_source = {str(task.source): task for task in todo}
    bytes_in = bytes_out = done = 0
    with report.progress(len(todo), options.command):
        for outcome in _outcomes(todo, options, jobs):
            report.advance()
            for warning in outcome.warnings:
                if not quiet:
                    report.line(f"nfc: warning: {warning}")
            if outcome.exists and _complete(by_source[outcome.source].output, options.command):
                skipped += 1  # another process wrote it meanwhile
                continue
            if outcome.error is not None:
                failures += 1
                report.line(f"nfc: error: {outcome.error}")
                continue
            done += 1
            bytes_in += outcome.bytes_in
            bytes_out += outcome.bytes_out
    if not quiet:
        big, small = (bytes_in, bytes_out) if options.command == "encode" else (bytes_out, bytes_in)
        ratio = f" (ratio {big / small:.1f}:1)" if small else ""
        report.line(
            f"nfc: {options.command}d {done} files, {bytes_in:,} -> {bytes_out:,} bytes{ratio}; "
            f"skipped {skipped} (already done), failed {failures}"
        )
    return 1 if failures else 0


def _outcomes(todo: list[Task], options: Options, jobs: int) -> Iterable[Outcome]:
    if jobs == 1 or len(todo) <= 1:
        for task in todo:
            yield code_file(str(task.source), str(task.output), options)
        return
    import multiprocessing

    # spawn, not fork: a forked child of a process that has run torch's thread pool can hang.
    threads = max(1, len(os.sched_getaffinity(0)) // jobs)
    pool = ProcessPoolExecutor(
        max_workers=min(jobs, len(todo)),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(threads, options.model if options.command == "encode" else None),
    )
    try:
        futures = [pool.submit(code_file, str(t.source), str(t.output), options) for t in todo]
        for future in as_completed(futures):
            yield future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _start_worker(threads: int, model: str | None) -> None:
    """Each worker: its share of the threads, the import and the model paid for once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the parent, which stops the pool
    ignore_third_party_warnings()
    import torch

    torch.set_num_threads(threads)
    from neuralcodec.codec import set_threads

    set_threads(threads)  # its share of the CPU, whatever the size of an image
    if model is not None:
        from neuralcodec.models.catalog import spec_for
        from neuralcodec.models.registry import load_model

        load_model(spec_for(model).alias)  # the key the codec's calls use


class _Report:
    """Lines on stderr, through the progress bar when there is one (a terminal, not --quiet)."""

    def __init__(self, quiet: bool):
        self.show_bar = not quiet and sys.stderr.isatty()
        self.bar = None

    def progress(self, total: int, command: str):
        from contextlib import nullcontext

        if not self.show_bar or total == 0:
            return nullcontext()
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=f"{command[:-1]}ing", unit="file", file=sys.stderr)
        return self.bar

    def advance(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def line(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)
