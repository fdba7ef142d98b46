"""The CPU-heavy parts of the sealing stages, run in the process pool (top-level functions over
plain arguments, so they pickle)."""

from __future__ import annotations

import contextlib
import os
import shutil

from engine.proofs import sdr, write_cc_unsealed

__all__ = ["make_parents", "remove_path", "remove_prefixed", "sdr_into"]


def sdr_into(
    cache_dir: str,
    unsealed_path: str,
    sector_size: int,
    prover_id: bytes,
    sector_number: int,
    ticket: bytes,
    comm_d: bytes,
) -> None:
    """SDR for a CC sector: the (all-zero) unsealed file and every label layer, written to the
    given (temporary) paths and flushed to disk."""
    write_cc_unsealed(unsealed_path, sector_size)
    sdr(cache_dir, sector_size, prover_id, sector_number, ticket, comm_d)
    for root, _dirs, files in os.walk(cache_dir):
        for name in files:
            _fsync_file(os.path.join(root, name))
    _fsync_file(unsealed_path)


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_path(path: str) -> None:
    """Remove a file or directory tree if it exists."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def make_parents(*paths: str) -> None:
    """Create the directories the given files are to be written in (run in a thread or a
    worker: a slow or network disk must not stall the event loop)."""
    for path in paths:
        os.makedirs(os.path.dirname(path), exist_ok=True)


def remove_prefixed(directory: str, prefix: str) -> None:
    """Remove every entry of ``directory`` whose name starts with ``prefix`` (the temporaries
    of killed attempts), in one call off the event loop; nothing if there is no directory."""
    try:
        entries = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if entry.startswith(prefix):
            remove_path(os.path.join(directory, entry))
