"""Writing outputs safely: atomically, never over the input they were made from, and never
over an existing file unless asked to; and what a writer killed mid-write leaves behind.

::

    data --write, fsync--> .NAME.PID_XXXXXXXX.tmp --link (new) or rename (replace)--> NAME

A writer killed with SIGKILL leaves its temporary behind. The temporary names the writer's
PID, so the next write of NAME, and each batch run (``nfc encode DIR -o OUT``) in that
folder, removes the temporaries whose writer is no longer running.
"""

from __future__ import annotations

import errno
import glob
import os
import re
import stat
import tempfile
from pathlib import Path

from neuralcodec.errors import LimitExceeded

#: Temporary files are hidden and end in this, so a killed run's leftovers are never taken
#: for outputs (``.face.nfc.4242_k3j9x2ab.tmp`` next to ``face.nfc``, written by PID 4242).
TEMP_SUFFIX = ".tmp"

#: A named temporary of :func:`write_atomic`: ``.{name}.{writer pid}_{random}.tmp``.
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>[0-9]+)_[a-z0-9_]+\.tmp$")

#: The most bytes an input file (or standard input) may hold: a 16-bit RGB TIFF at the pixel
#: cap, uncompressed, is 201 MB; /dev/zero or an endless pipe stops here.
MAX_INPUT_BYTES = 1 << 28

#: Errors of ``os.link`` on file systems without hard links (FAT, some network shares).
_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS}


def read_regular(path: str | os.PathLike, limit: int | None = None) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` (default MAX_INPUT_BYTES).

    Never blocks on a FIFO (opened non-blocking, then refused like a device or socket:
    OSError EINVAL "not a regular file"); IsADirectoryError for a folder; LimitExceeded for a
    file over ``limit`` bytes, before reading it (and if it grows past ``limit`` meanwhile).
    The messages of LimitExceeded do not name the file (callers do).
    """
    limit = MAX_INPUT_BYTES if limit is None else limit
    name = os.fspath(path)
    fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", name)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file (a FIFO, device or socket)", name)
        if info.st_size > limit:
            raise LimitExceeded(f"{info.st_size:,} bytes, over the {limit:,}-byte input cap")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise LimitExceeded(f"over the {limit:,}-byte input cap")
    return data


def read_stream(stream, limit: int | None = None) -> bytes:
    """A binary stream (standard input) read to its end, at most ``limit`` bytes (default
    MAX_INPUT_BYTES); LimitExceeded where it holds more (an endless pipe, /dev/zero)."""
    limit = MAX_INPUT_BYTES if limit is None else limit
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise LimitExceeded(f"over the {limit:,}-byte input cap")
    return data


def write_atomic(path: Path, data: bytes, replace: bool = True) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    Readers see the old file or the complete new one, never a partial write; on failure the
    temporary file is removed and ``path`` is untouched. The file gets the permissions a
    plain ``open(path, "w")`` would give it: those of the file it replaces, or 0o666 less
    the umask (``mkstemp`` alone would leave 0o600).

    ``replace=False``: FileExistsError where ``path`` exists, also when another process
    creates it meanwhile (the temporary file is hard-linked to ``path``, which fails on an
    existing name; where hard links are not supported, the check and the rename are two steps).
    FileNotFoundError naming ``path`` where its folder does not exist.

    Crash safety: the temporary ``.NAME.PID_XXXXXXXX.tmp`` carries the writer's PID, and
    this function first removes the ones of ``path`` whose writer is dead
    (:func:`remove_stale_temporaries`), the leftovers of writers killed mid-write.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, f"the output folder {path.parent} does not exist", str(path))
    remove_stale_temporaries(path.parent, path.name)
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    else:
        if not replace:
            raise _exists(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}_", suffix=TEMP_SUFFIX)
    except OSError as exc:  # it names the temporary file; the caller knows only ``path``
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            _rename_no_replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.filename != tmp:
            raise
        raise OSError(exc.errno, exc.strerror, str(path)) from None  # name the file, not the temporary
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temporaries(folder: Path, name: str | None = None) -> int:
    """Delete the temporaries in ``folder`` (of output ``name`` only, if given) whose writer
    process is no longer running: the leftovers of writers killed mid-write. Returns how many.

    A writer is judged by its PID on this machine, so a temporary that a live process on
    another machine writes into a shared folder under a PID unused here is taken for stale.
    """
    pattern = f".{glob.escape(name)}.*{TEMP_SUFFIX}" if name is not None else f".*{TEMP_SUFFIX}"
    removed = 0
    for candidate in Path(folder).glob(pattern):
        match = _TEMPORARY.match(candidate.name)
        if match is None or (name is not None and match["name"] != name) or _running(int(match["pid"])):
            continue
        try:
            candidate.unlink()
        except FileNotFoundError:
            continue  # a concurrent sweep got it first
        removed += 1
    return removed


def _running(pid: int) -> bool:
    """Whether a process ``pid`` exists here (one of another user counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True


def _rename_no_replace(tmp: str, path: Path) -> None:
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise _exists(path) from None
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        if path.exists():
            raise _exists(path) from None
        os.replace(tmp, path)
    else:
        os.unlink(tmp)


def _exists(path: Path) -> FileExistsError:
    return FileExistsError(errno.EEXIST, "already exists", str(path))


def _umask() -> int:
    current = os.umask(0)  # reading the umask means setting it; put it back at once
    os.umask(current)
    return current


def is_same_file(a: Path, b: Path) -> bool:
    """True when ``a`` and ``b`` name the same existing file (links and ``..`` resolved)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
