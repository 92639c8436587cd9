"""One file through the codec for ``nfc encode`` / ``nfc decode``: read, code, write safely.

::

    source (path | -) -> bytes -> compress / decompress -> bytes -> output (path | -)
                                                          written atomically, never over the
                                                          input, over an existing file only
                                                          with -f/--force

The same function codes a lone file (its outcome ends the command) and each file of a batch
(in the main process or a worker; the batch goes on after a failure). Expected failures come
back as a one-line message naming the file and, where a flag is at fault, that flag; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import os
import sys
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

from neuralcodec.errors import InvalidOption, NfcError
from neuralcodec.models.catalog import DEFAULT_MODEL

STDIO = "-"

#: Argument of compress() / decompress() -> the nfc flag that sets it, for error messages.
FLAGS = {
    "quality": "-q/--quality",
    "target_bytes": "--size",
    "model": "-m/--model",
    "roi": "--roi",
    "roi_levels": "--roi-boost",
    "decoder": "--decoder",
}


class UsageError(Exception):
    """A mistake in the command line (exit code 2)."""


@dataclass(frozen=True)
class Options:
    """How every file of one command is coded (the parsed flags; picklable for workers)."""

    command: str  # "encode" or "decode"
    force: bool = False
    quality: int | None = None
    model: str = DEFAULT_MODEL
    roi: str | tuple[int, int, int, int] | None = None
    roi_levels: tuple[float, float | None] | None = None
    target_bytes: int | None = None
    decoder: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What became of one file. ``error`` is None on success; ``usage`` marks an error of the
    command line rather than of the file (exit code 2 where it is the only file)."""

    source: str
    bytes_in: int = 0
    bytes_out: int = 0
    note: str | None = None  # the line a lone encode prints: size and bpp
    warnings: tuple[str, ...] = ()
    error: str | None = None
    usage: bool = False
    exists: bool = False  # the error is that the output exists (another writer may have made it)


def code_file(source: str, output: str, options: Options) -> Outcome:
    """Code ``source`` to ``output`` (either may be ``-``) and say how it went.

    The library's warnings (UserWarning: transparency flattened, no face found) come back in
    :attr:`Outcome.warnings` prefixed with the file's name; other warnings raised meanwhile
    (third-party deprecations) are dropped.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            outcome = _code(source, output, options)
        except (UsageError, InvalidOption) as exc:
            outcome = Outcome(source, error=describe(exc, source), usage=True)
        except (NfcError, OSError) as exc:
            outcome = Outcome(source, error=describe(exc, source), exists=isinstance(exc, FileExistsError))
    found = tuple(f"{_label(source)}: {w.message}" for w in caught if issubclass(w.category, UserWarning))
    return replace(outcome, warnings=found)


def _code(source: str, output: str, options: Options) -> Outcome:
    if output != STDIO:
        if source != STDIO and _same_file(source, output):
            raise UsageError(f"refusing to overwrite the input file {source}")
        if options.command == "decode":
            image_format(output)
        if not options.force and os.path.lexists(output):
            raise _exists(output)  # before the work, not only at the write
    else:
        _stdout()  # closed: say so before the work
    data = read_input(source)
    import neuralcodec

    note = None
    if options.command == "encode":
        result = neuralcodec.compress(
            data,
            quality=options.quality,
            roi=options.roi,
            roi_levels=options.roi_levels,
            target_bytes=options.target_bytes,
            model=options.model,
        )
        if output != STDIO:
            info = neuralcodec.inspect(result)
            note = f"{output}: {info.width}x{info.height}, {info.file_bytes} bytes, {info.bpp:.3f} bpp"
    else:
        from neuralcodec.imaging import encode_image_file

        image = neuralcodec.decompress(data, decoder=options.decoder)
        result = encode_image_file(image, Path(output if output != STDIO else "out.png"))
    write_output(output, result, replace=options.force)
    return Outcome(source, bytes_in=len(data), bytes_out=len(result), note=note)


def read_input(name: str) -> bytes:
    """The bytes of a file, or of standard input for ``-`` (either at most
    files.MAX_INPUT_BYTES: LimitExceeded past that, so /dev/zero or an endless pipe ends)."""
    from neuralcodec.files import read_regular, read_stream

    if name == STDIO:
        if sys.stdin is None:  # started with standard input closed (<&-)
            raise OSError(errno.EBADF, "closed, nothing to read")
        return read_stream(sys.stdin.buffer)
    if not os.path.lexists(name):
        raise FileNotFoundError(errno.ENOENT, "no such file", name)
    try:
        return read_regular(name)
    except IsADirectoryError:
        raise OSError(errno.EISDIR, "is a folder (-r/--recursive codes the files in it)", name) from None


def write_output(name: str, data: bytes, replace: bool) -> None:
    """Write to standard output for ``-``, else atomically (files.write_atomic)."""
    from neuralcodec.files import write_atomic

    if name == STDIO:
        stdout = _stdout()
        try:
            stdout.write(data)
            stdout.flush()
        except BrokenPipeError:
            # Its reader is gone: point fd 1 at /dev/null so that the flush at exit cannot
            # fail a second time with "Exception ignored ... BrokenPipeError".
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stdout.fileno())
            os.close(devnull)
            raise OSError(errno.EPIPE, "standard output was closed by its reader") from None
        return
    write_atomic(Path(name), data, replace=replace)


def _stdout():
    """The binary standard output; OSError where the process started with it closed (>&-)."""
    if sys.stdout is None:
        raise OSError(errno.EBADF, "standard output is closed; nothing was written")
    return sys.stdout.buffer


def image_format(output: str) -> str:
    """The Pillow format that ``output``'s extension names; UsageError if it names none."""
    from PIL import Image

    suffix = Path(output).suffix.lower()
    fmt = Image.registered_extensions().get(suffix)
    if fmt is None or fmt not in Image.SAVE or fmt == "NFC":
        raise UsageError(
            f"-o {output}: {f'unknown image extension {suffix}' if suffix else 'no image extension'}; "
            "use one that names the format, e.g. .png, .jpg, .webp"
        )
    return fmt


def describe(exc: BaseException, source: str) -> str:
    """One line for a failed file: the file, what went wrong, and the flag to change if any."""
    if isinstance(exc, FileExistsError):
        return f"{exc.filename} already exists; -f/--force replaces it"
    if isinstance(exc, OSError):
        if exc.filename and exc.strerror:
            return f"{exc.filename}: {exc.strerror}"
        return f"{_label(source)}: {exc.strerror or exc}"
    if isinstance(exc, UsageError):
        return str(exc)
    return f"{_label(source)}: {with_flag(exc)}"


def with_flag(exc: BaseException) -> str:
    """The message, and the flag to change where an InvalidOption names the argument at fault."""
    flag = FLAGS.get(getattr(exc, "option", None) or "")
    return f"{exc} (see {flag})" if flag else str(exc)


def _label(source: str) -> str:
    return "standard input" if source == STDIO else source


def _exists(path: str) -> FileExistsError:
    return FileExistsError(errno.EEXIST, "already exists", path)


def _same_file(a: str, b: str) -> bool:
    from neuralcodec.files import is_same_file

    return is_same_file(Path(a), Path(b))


def ignore_third_party_warnings() -> None:
    """Hide the warnings of other libraries that nfc's users can do nothing about.

    Importing CompressAI imports torch_geometric, whose ``torch.jit.script`` calls make torch
    print a FutureWarning at every start.
    """
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.* is deprecated", category=FutureWarning)
