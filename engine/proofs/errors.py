"""Typed errors of the proofs library.

Every failure a caller may want to act on has its own class, so the task engine can tell a
sector that must be declared faulty (its file is missing or corrupt) from a programming error
(a bad argument) without parsing messages. Messages name the file and say what is wrong.
"""

from __future__ import annotations

__all__ = [
    "InvalidCID",
    "InvalidPieceError",
    "ProofError",
    "SectorFileCorrupt",
    "SectorFileError",
    "SectorFileMissing",
    "SectorFileTruncated",
    "SectorFileUnreadable",
    "UnsupportedSectorSize",
]


class ProofError(Exception):
    """Base class of every error raised by ``engine.proofs``."""


class InvalidPieceError(ProofError, ValueError):
    """A piece or payload cannot be committed to (too small, too large, misaligned size)."""


class UnsupportedSectorSize(ProofError, ValueError):
    """The sector size is not one of the sizes this library knows or can seal."""


class InvalidCID(ProofError, ValueError):
    """A string is not a commitment CID of the expected kind (prefix, codec, hash or length)."""


class SectorFileError(ProofError):
    """A sector file (unsealed, sealed or a cache file) cannot be used.

    Attributes:
        path: the file concerned, as given by the caller.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class SectorFileMissing(SectorFileError):
    """The file does not exist: the sector is lost from this storage, not corrupt."""

    def __init__(self, path: str, what: str = "sector file") -> None:
        super().__init__(path, f"{what} is missing")


class SectorFileTruncated(SectorFileError):
    """The file is shorter (or longer) than the sector size says it must be."""

    def __init__(self, path: str, expected: int, actual: int, what: str = "sector file") -> None:
        super().__init__(path, f"{what} has {actual} bytes, expected {expected} (truncated?)")
        self.expected = expected
        self.actual = actual


class SectorFileCorrupt(SectorFileError):
    """The file has the right size but its content contradicts the commitments."""


class SectorFileUnreadable(SectorFileError):
    """The file exists but the operating system refused to read it (permissions, I/O error)."""
