"""File access with the library's typed errors.

Every read of a sector or cache file goes through here, so a missing file, a permission
problem and a short file always surface as the same three exception classes, each naming
the file, whichever proof step touched it first.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator

from engine.proofs.errors import (
    SectorFileMissing,
    SectorFileTruncated,
    SectorFileUnreadable,
)

__all__ = ["atomic_output", "file_size", "open_for_read", "read_exact"]


def open_for_read(path: str, what: str) -> int:
    """``os.open`` for reading with the library's typed errors."""
    try:
        return os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise SectorFileMissing(path, what) from None
    except OSError as e:
        raise SectorFileUnreadable(path, f"cannot open {what}: {e.strerror}") from None


def read_exact(fd: int, path: str, size: int, offset: int, what: str) -> bytes:
    """Read exactly ``size`` bytes at ``offset`` or raise a typed error."""
    try:
        data = os.pread(fd, size, offset)
    except OSError as e:
        raise SectorFileUnreadable(path, f"{what} read failed at {offset}: {e.strerror}") from e
    if len(data) != size:
        raise SectorFileTruncated(path, offset + size, offset + len(data), what)
    return data


def file_size(path: str, what: str) -> int:
    """Size of ``path`` with typed errors."""
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        raise SectorFileMissing(path, what) from None
    except OSError as e:
        raise SectorFileUnreadable(path, f"cannot stat {what}: {e.strerror}") from None


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[int]:
    """Yield a file descriptor whose content replaces ``path`` only if the block succeeds.

    The data goes to a temporary file in the same directory, is fsynced, then renamed over
    ``path``; on any exception the temporary file is removed and ``path`` is untouched, so a
    crash never leaves a half-written sealed or unsealed file under its final name.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".")
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide sector files from other services
        yield fd
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
