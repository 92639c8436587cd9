"""Writing outputs safely: atomically, never over the input they were made from, and never
over an existing file unless asked to."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

#: Temporary files are hidden and end in this, so a killed run's leftovers are never taken
#: for outputs (``.face.nfc.k3j9x2.tmp`` next to ``face.nfc``).
TEMP_SUFFIX = ".tmp"

#: Errors of ``os.link`` on file systems without hard links (FAT, some network shares).
_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS}


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
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, f"the output folder {path.parent} does not exist", str(path))
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    else:
        if not replace:
            raise _exists(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
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
