"""Textual's line strips made light: no reference cycles, and caches made when first used.

Every line the console draws is a Textual 8.2 :class:`~textual.strip.Strip`, and the
compositor makes new ones for every line of every frame. Two things in them kept the console's
garbage collector busy, and each of its passes is a pause of the event loop (see
:mod:`console.collector`).

**Strips that cache themselves.** A strip caches the results of its operations on itself. Two
of them can return the strip itself, and then cache it in the strip: ``divide`` at the
strip's own length (``[self]``, which the compositor asks for every line it draws) and
``crop_extend`` to exactly its own span. Each such strip is a reference cycle (strip, cache,
dict, list, strip), so when the line is redrawn the old strip is not freed by reference
counting: it waits for the cyclic collector, with its segments and its caches. In the console
that was about 10,000 objects a second (measured with ``gc.DEBUG_SAVEALL``: 658 strips, 4,606
of their caches, 1,309 segments in one second's garbage), and because garbage counts towards
the collector's thresholds until collected, it set off most of the collector's passes. The two
methods are wrapped so that the self case returns what it returned before (``[self]``,
``self``) without caching it; every other call goes to Textual's method unchanged.

**Seven caches a strip.** Each strip makes seven empty ``FIFOCache`` objects when it is made
(one per operation it can cache), most of them never used: a line drawn once is divided and
perhaps cropped, nothing else. Each cache is an object the collector tracks, so a strip was
about ten tracked objects, and in the console's middle generation 15,000 of 100,000 objects
were such caches. Here a strip is made without them, and each is made the first time its
operation asks for it (``Strip.__getattr__``, which Python calls only for an attribute not
yet set), at the size Textual gives it. On the console benchmark this took the young passes
from 12 to 7-8 in 15 s and their total from 103-144 to 43-51 ms, and the pane switch's median
from 38-45 to 30-31 ms (measured side by side, same cluster).

Results are the same as Textual's for every call; only the cycles and the unused caches are
gone. tests/console/test_strips.py holds both against Textual's own methods and constructor.
Textual is pinned to one version in pyproject.toml (its SVG snapshots depend on it); an
upgrade that fixes this upstream or renames these parts fails those tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.segment import Segment
from rich.style import Style
from textual.cache import FIFOCache
from textual.strip import Strip

__all__ = ["install"]

_stock_init = Strip.__init__
_stock_divide = Strip.divide
_stock_crop_extend = Strip.crop_extend


def _stock_defaults() -> tuple[dict[str, int], dict[str, object]]:
    """What Textual's constructor sets besides the segments and their length: the sizes of
    its caches, and every other attribute's first value."""
    probe = Strip.__new__(Strip)
    _stock_init(probe, [])
    sizes: dict[str, int] = {}
    values: dict[str, object] = {}
    for name in Strip.__slots__:
        if name in ("_segments", "_cell_length"):
            continue
        value = getattr(probe, name)
        if isinstance(value, FIFOCache):
            sizes[name] = value._maxsize
        else:
            values[name] = value
    return sizes, values


_CACHE_SIZES, _FIRST_VALUES = _stock_defaults()


def _init(self: Strip, segments: Iterable[Segment], cell_length: int | None = None) -> None:
    self._segments = list(segments)
    self._cell_length = cell_length
    for name, value in _FIRST_VALUES.items():
        setattr(self, name, value)


def _getattr(self: Strip, name: str) -> FIFOCache[object, object]:
    size = _CACHE_SIZES.get(name)
    if size is None:
        raise AttributeError(f"'Strip' object has no attribute {name!r}")
    cache: FIFOCache[object, object] = FIFOCache(size)
    setattr(self, name, cache)
    return cache


def _divide(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
    cuts = list(cuts)
    length = self.cell_length
    if [cut for cut in cuts if cut <= length] == [length]:
        return [self]  # what Textual returns here, without caching it in self
    return _stock_divide(self, cuts)


def _crop_extend(self: Strip, start: int, end: int, style: Style | None) -> Strip:
    if start <= 0 and end == self.cell_length:
        return self  # extend is a no-op and the crop the whole strip: Textual returns self
    return _stock_crop_extend(self, start, end, style)


def install() -> None:
    """Replace the constructor and the two methods (idempotent)."""
    Strip.__init__ = _init  # type: ignore[method-assign]
    Strip.__getattr__ = _getattr  # type: ignore[attr-defined]
    Strip.divide = _divide  # type: ignore[method-assign]
    Strip.crop_extend = _crop_extend  # type: ignore[method-assign]
