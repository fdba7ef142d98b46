"""Typed storage errors.

Each says what is wrong and, where there is one, what to do; the CLI prints ``str(exc)`` as a
one-line message. They are not database errors: a ``HarmonyDBError`` from a failing query passes
through unchanged.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "CorruptStoreMeta",
    "InvalidSetting",
    "NoSuitablePath",
    "NotADirectory",
    "OverlappingPath",
    "SectorFileSizeError",
    "SectorNotFound",
    "StorageError",
    "StoreConfigConflict",
    "UnknownStoragePath",
]


class StorageError(Exception):
    """Base of every storage error."""


class NotADirectory(StorageError):
    """A path to attach (or a path's local directory) is missing or is not a directory."""

    def __init__(self, path: Path, reason: str = "is not a directory") -> None:
        super().__init__(f"{path} {reason}")
        self.path = path


class InvalidSetting(StorageError, ValueError):
    """A storage setting is malformed (unknown file type, negative weight or size)."""


class UnknownStoragePath(StorageError):
    """No attached storage path has this ID, or no path is attached at this directory."""


class OverlappingPath(StorageError):
    """The directory is, contains or lies inside a path already attached on this host.

    Nested paths would count the same files twice (capacity, used, redeclare) and let two IDs
    claim one sector file.
    """


class CorruptStoreMeta(StorageError):
    """``sectorstore.json`` exists but cannot be used (bad JSON, missing or invalid fields)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"corrupt {path}: {reason}")
        self.path = path
        self.reason = reason


class StoreConfigConflict(StorageError):
    """``attach`` was given settings that differ from an already initialised ``sectorstore.json``.

    The file is shared by every host attaching the path, so it is never silently rewritten.
    """


class NoSuitablePath(StorageError):
    """No storage path can take a file now: a clear, immediate refusal instead of a wait.

    ``reason`` is the human explanation (e.g. "no storage path can take a 2 KiB sealed file:
    1 path is seal-only, 1 denies sealed"); ``rejections`` counts paths per reason.
    """

    def __init__(self, reason: str, rejections: dict[str, int] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.rejections = dict(rejections or {})


class SectorFileSizeError(StorageError):
    """A sector file has the wrong size for its type (e.g. a truncated sealed file)."""

    def __init__(self, path: Path, actual: int, expected: int) -> None:
        super().__init__(
            f"{path} has {actual} bytes, expected {expected}: truncated or not a sector file"
        )
        self.path = path
        self.actual = actual
        self.expected = expected


class SectorNotFound(StorageError):
    """A sector file is not declared anywhere reachable, or its declared file is missing."""
