"""File operations that survive a crash or power loss at any point.

A rename is only durable once the directory holding it is fsynced, and a file's bytes only once
the file is; skipping either can leave, after a power cut, a name pointing at a partial file.
Every writer in this package goes through these helpers so the discipline is in one place.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "CHUNK",
    "copy_file_into",
    "copy_tree_into",
    "entry_size",
    "fsync_dir",
    "remove_entry",
    "write_file_atomic",
]

CHUNK = 1 << 20
"""Copy buffer: large enough for throughput, small enough for timely progress callbacks."""

Progress = Callable[[int], None]


def fsync_dir(path: Path) -> None:
    """Make creations, renames and removals inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: readers see the old or the new content, never a mix."""
    tmp = path.with_name(f".tmp-{path.name}.{secrets.token_hex(4)}")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def copy_file_into(
    src: Path, dst_fd: int, *, copied: int = 0, on_progress: Progress | None = None
) -> int:
    """Copy ``src`` into the open, empty file ``dst_fd`` and fsync it.

    Returns ``copied`` plus the bytes written, and calls ``on_progress`` with that running total
    after every chunk (a move's progress, and the hook tests use to stop a mover mid-copy).
    """
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    with open(src, "rb", buffering=0) as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            written = 0
            while written < n:
                written += os.write(dst_fd, view[written:n])
            copied += n
            if on_progress is not None:
                on_progress(copied)
    os.fsync(dst_fd)
    return copied


def copy_tree_into(
    src: Path, dst: Path, *, copied: int = 0, on_progress: Progress | None = None
) -> int:
    """Copy the contents of directory ``src`` into the existing, empty directory ``dst``.

    Every file is fsynced, then every directory, bottom-up, so when this returns the whole tree
    is on disk. Only regular files and directories are copied; anything else is an error
    (a symlink inside a sector cache would point outside the storage path).
    """
    for entry in sorted(os.scandir(src), key=lambda e: e.name):
        target = dst / entry.name
        mode = entry.stat(follow_symlinks=False).st_mode
        if stat.S_ISDIR(mode):
            target.mkdir()
            copied = copy_tree_into(
                Path(entry.path), target, copied=copied, on_progress=on_progress
            )
        elif stat.S_ISREG(mode):
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                copied = copy_file_into(
                    Path(entry.path), fd, copied=copied, on_progress=on_progress
                )
            finally:
                os.close(fd)
        else:
            raise OSError(f"{entry.path} is neither a regular file nor a directory")
    fsync_dir(dst)
    return copied


def entry_size(path: Path) -> int:
    """Bytes in a file, or in all files under a directory (without following symlinks)."""
    st = path.lstat()
    if not stat.S_ISDIR(st.st_mode):
        return st.st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                continue  # removed while we walked: it no longer uses space
    return total


def remove_entry(path: Path) -> bool:
    """Remove a file or a directory tree and make the removal durable; False if absent."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        path.unlink()
    fsync_dir(path.parent)
    return True
