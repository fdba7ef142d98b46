"""Filecoin bitfields as Lotus's JSON API writes them: run lengths, starting with an unset run.

go-bitfield (``rle/rleplus.go``, ``RLE.MarshalJSON``/``UnmarshalJSON``): "Encoded as an array of
run-lengths, always starting with zeroes (absent values). E.g.: The set {0, 1, 2, 8, 9} is the
bitfield 1110000011, and would be marshalled as [0, 3, 5, 2]". So runs alternate unset, set,
unset, …; the first (unset) run may be 0 when bit 0 is set, and no other run may be 0
("Cannot have a zero-length run except at start"). The empty set is written ``[0]``; ``null``
(a nil slice in Go) and ``[]`` read as empty too. The Lotus v1 API docs show the set {5} as
``[5, 1]``.

A :class:`BitField` keeps the set as ranges, never as one integer per member: a miner's
``AllSectors`` may hold millions of sector numbers in a handful of runs.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .errors import LotusDecodeError

__all__ = ["BitField"]

_UINT64_LIMIT = 1 << 64  # bits are uint64 indices: every run ends at or below 2^64


@dataclass(frozen=True)
class BitField:
    """A set of ``uint64`` (sector numbers, partition indices).

    ``ranges`` are ``(start, stop)`` half-open intervals of set bits, sorted, disjoint and
    never touching (two adjacent intervals would be one run).
    """

    ranges: tuple[tuple[int, int], ...] = ()

    # ------------------------------------------------------------------ building

    @classmethod
    def of(cls, members: Iterable[int]) -> BitField:
        """The bitfield holding ``members`` (any order, duplicates allowed)."""
        ranges: list[tuple[int, int]] = []
        for n in sorted(set(members)):
            if not 0 <= n < _UINT64_LIMIT:
                raise ValueError(f"{n} is not a uint64 bit index")
            if ranges and ranges[-1][1] == n:
                ranges[-1] = (ranges[-1][0], n + 1)
            else:
                ranges.append((n, n + 1))
        return cls(tuple(ranges))

    @classmethod
    def from_json(cls, value: Any, where: str = "bitfield") -> BitField:
        """Decode the run-length list (``[0, 3, 5, 2]`` = {0, 1, 2, 8, 9})."""
        if value is None:
            return cls()
        if not isinstance(value, list):
            kind = type(value).__name__
            raise LotusDecodeError(f"{where}: expected a run-length list, got {kind}")
        ranges: list[tuple[int, int]] = []
        position = 0
        for i, run in enumerate(value):
            if isinstance(run, bool) or not isinstance(run, int) or run < 0:
                raise LotusDecodeError(f"{where}[{i}]: a run length is a non-negative integer")
            if run == 0 and i != 0:
                raise LotusDecodeError(
                    f"{where}[{i}]: a zero-length run is allowed only at the start"
                )
            end = position + run
            if end > _UINT64_LIMIT:
                raise LotusDecodeError(f"{where}: the runs reach past bit 2^64")
            if i % 2 == 1:  # odd positions are set runs
                ranges.append((position, end))
            position = end
        return cls(tuple(ranges))

    def to_json(self) -> list[int]:
        """The run-length list go-bitfield writes (``[0]`` when empty, no trailing unset run)."""
        if not self.ranges:
            return [0]
        runs: list[int] = []
        position = 0
        for start, stop in self.ranges:
            runs.append(start - position)  # unset run; 0 only for the first, at bit 0
            runs.append(stop - start)
            position = stop
        return runs

    # ------------------------------------------------------------------ reading

    def count(self) -> int:
        """How many bits are set (go-bitfield ``Count``)."""
        return sum(stop - start for start, stop in self.ranges)

    def __len__(self) -> int:
        return self.count()

    def __bool__(self) -> bool:
        return bool(self.ranges)

    def __iter__(self) -> Iterator[int]:
        for start, stop in self.ranges:
            yield from range(start, stop)

    def __contains__(self, n: object) -> bool:
        if not isinstance(n, int):
            return False
        i = bisect.bisect_right(self.ranges, (n, _UINT64_LIMIT + 1)) - 1
        return i >= 0 and self.ranges[i][0] <= n < self.ranges[i][1]

    def __or__(self, other: BitField) -> BitField:
        merged: list[tuple[int, int]] = []
        for start, stop in sorted(self.ranges + other.ranges):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
            else:
                merged.append((start, stop))
        return BitField(tuple(merged))

    def __repr__(self) -> str:
        shown = ", ".join(f"{a}" if b == a + 1 else f"{a}-{b - 1}" for a, b in self.ranges[:8])
        more = ", …" if len(self.ranges) > 8 else ""
        return f"BitField({{{shown}{more}}})"
