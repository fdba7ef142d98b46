"""Textual's line strips without the reference cycles that kept the console's collector busy.

Textual 8.2's :class:`~textual.strip.Strip` caches the results of its operations on itself.
Two of them can return the strip itself, and then cache it in the strip: ``divide`` at the
strip's own length (``[self]``, which the compositor asks for every line it draws) and
``crop_extend`` to exactly its own span. Each such strip is a reference cycle (strip, cache,
dict, list, strip), so when the line is redrawn the old strip is not freed by reference
counting: it waits for the cyclic garbage collector, with its segments and seven caches.

In the console that was about 10,000 objects a second (measured with ``gc.DEBUG_SAVEALL``:
658 strips, 4,606 of their caches, 1,309 segments in one second's garbage), and because
garbage counts towards the collector's thresholds until collected, it set off most of the
collector's passes, each a pause of the event loop (see :mod:`console.collector`).

:func:`install` wraps the two methods so that the self case returns what it returned before
(``[self]``, ``self``) without caching it; every other call goes to Textual's method
unchanged. The result of each call is the same, only the cycle is gone.
tests/console/test_strip_cycles.py holds both: the same results as Textual's methods, and no
strip that refers to itself.

Textual is pinned to one version in pyproject.toml (its SVG snapshots depend on it); an
upgrade that fixes this upstream or renames the methods fails those tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.style import Style
from textual.strip import Strip

__all__ = ["install"]

_stock_divide = Strip.divide
_stock_crop_extend = Strip.crop_extend


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
    """Replace the two methods (idempotent)."""
    Strip.divide = _divide  # type: ignore[method-assign]
    Strip.crop_extend = _crop_extend  # type: ignore[method-assign]
