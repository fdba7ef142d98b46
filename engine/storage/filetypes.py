"""Sector file types: Curio's bitmask, directory names, space overheads and expected sizes.

The same bits and names as curio ``lib/storiface/filetype.go``, so rows and directories match a
Curio cluster's. A ``sector_location`` row holds exactly one bit; a task may ask for several
types at once (``UNSEALED | SEALED | CACHE``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from enum import IntFlag

__all__ = [
    "FS_OVERHEAD_FINALIZED",
    "FS_OVERHEAD_SEAL",
    "KNOWN_SECTOR_SIZES",
    "SectorFileType",
    "format_types",
    "parse_types",
]


class SectorFileType(IntFlag):
    """Curio's file-type bits. Iterate a combination with :meth:`bits`."""

    UNSEALED = 1
    SEALED = 2
    CACHE = 4
    UPDATE = 8
    UPDATE_CACHE = 16
    PIECE = 32
    KEY = 64

    @classmethod
    def all(cls) -> SectorFileType:
        """Every type at once (Curio's ``FTAll``)."""
        value = cls(0)
        for member in _ORDER:
            value |= member
        return value

    def bits(self) -> Iterator[SectorFileType]:
        """The single types in this combination, in Curio's order."""
        for member in _ORDER:
            if self & member:
                yield member

    def is_single(self) -> bool:
        return self.value > 0 and self.value & (self.value - 1) == 0

    @property
    def dir_name(self) -> str:
        """Curio's name for the type, also the sub-directory its files live in."""
        return _NAMES[self._single("dir_name")]

    @property
    def is_directory(self) -> bool:
        """Cache types are directories of files (tree layers, p_aux, t_aux), not one file."""
        return self._single("is_directory") in (SectorFileType.CACHE, SectorFileType.UPDATE_CACHE)

    def expected_size(self, sector_size: int) -> int | None:
        """The exact byte size of a whole file of this type, or None when it varies.

        A sealed replica, an update replica and an unsealed copy hold exactly one sector; a
        file of another size is truncated or foreign and must never be declared.
        """
        if self._single("expected_size") in (
            SectorFileType.UNSEALED,
            SectorFileType.SEALED,
            SectorFileType.UPDATE,
        ):
            return sector_size
        return None

    def overhead(self, sector_size: int, *, sealing: bool) -> int:
        """Bytes to reserve for one file of this type (Curio ``Local.Reserve``).

        While sealing, a cache holds 11 layers plus trees: 14.1 sector sizes; once finalized,
        0.1. The table is in units of sector_size/10.
        """
        table = FS_OVERHEAD_SEAL if sealing else FS_OVERHEAD_FINALIZED
        return table[self._single("overhead")] * sector_size // 10

    def _single(self, what: str) -> SectorFileType:
        if not self.is_single():
            raise ValueError(f"{what} needs a single file type, not {format_types(self)!r}")
        return SectorFileType(self.value)

    def __str__(self) -> str:
        return format_types(self)


_ORDER = (
    SectorFileType.UNSEALED,
    SectorFileType.SEALED,
    SectorFileType.CACHE,
    SectorFileType.UPDATE,
    SectorFileType.UPDATE_CACHE,
    SectorFileType.PIECE,
    SectorFileType.KEY,
)

_NAMES = {
    SectorFileType.UNSEALED: "unsealed",
    SectorFileType.SEALED: "sealed",
    SectorFileType.CACHE: "cache",
    SectorFileType.UPDATE: "update",
    SectorFileType.UPDATE_CACHE: "update-cache",
    SectorFileType.PIECE: "piece",
    SectorFileType.KEY: "key",
}
_BY_NAME = {name: ft for ft, name in _NAMES.items()}

FS_OVERHEAD_SEAL: dict[SectorFileType, int] = {
    SectorFileType.UNSEALED: 10,
    SectorFileType.SEALED: 10,
    SectorFileType.CACHE: 141,  # 11 layers + D (2x sector size) + C + R'
    SectorFileType.UPDATE: 10,
    SectorFileType.UPDATE_CACHE: 21,
    SectorFileType.PIECE: 10,
    SectorFileType.KEY: 111,
}
"""Curio ``FSOverheadSeal``: space per file while sealing, in units of sector_size/10."""

FS_OVERHEAD_FINALIZED: dict[SectorFileType, int] = {
    SectorFileType.UNSEALED: 10,
    SectorFileType.SEALED: 10,
    SectorFileType.CACHE: 1,
    SectorFileType.UPDATE: 10,
    SectorFileType.UPDATE_CACHE: 1,
    SectorFileType.PIECE: 10,
    SectorFileType.KEY: 10,
}
"""Curio ``FsOverheadFinalized``: space per file on long-term storage."""

KNOWN_SECTOR_SIZES: tuple[int, ...] = (
    2 << 10,
    8 << 20,
    512 << 20,
    32 << 30,
    64 << 30,
)
"""Filecoin's sector sizes (also in ``engine.proofs.sizes``; repeated here so storage does not
load the proofs package). A sealed file of any other size cannot be whole."""


def parse_types(text: str | Iterable[str]) -> SectorFileType:
    """``"sealed,cache"`` (or a list of names) -> ``SEALED | CACHE``; raises ValueError."""
    names = text.split(",") if isinstance(text, str) else list(text)
    value = SectorFileType(0)
    for raw in names:
        name = raw.strip().lower().replace("_", "-")
        if not name:
            continue
        if name not in _BY_NAME:
            known = ", ".join(_NAMES.values())
            raise ValueError(f"unknown sector file type {raw.strip()!r} (known: {known})")
        value |= _BY_NAME[name]
    return value


def format_types(types: SectorFileType, sep: str = ",") -> str:
    """``SEALED | CACHE`` -> ``"sealed,cache"`` (Curio's order)."""
    return sep.join(_NAMES[ft] for ft in SectorFileType(types).bits())
