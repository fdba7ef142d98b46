"""Rows built again only when what they show changed.

A pane built every cell of every row at each refresh and at each switch to it: 20-40 µs a row,
which at ten times the bench's size (1,000 machines, 2,000 running jobs) was 40-90 ms of a pane
switch, nearly all of it for rows that showed what they showed before. With a :class:`RowCache`
a row is built again only when its *signature* (everything its cells are made of, as plain
values) changed; otherwise the pane hands the table the very cell objects it has, and
:meth:`KeyedTable.sync <console.widgets.keyed_table.KeyedTable.sync>` passes them by identity.

A signature must cover every input of the row's cells: a field left out would leave a stale
cell on screen. The panes' tests change each field of a record in turn and check that the
signature moves whenever the cells do.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

__all__ = ["RowCache"]

T = TypeVar("T")

#: ``row(key, signature, build)``: the row of ``key``, built by ``build()`` unless the cache
#: has it for this signature
RowFn = Callable[[str, Hashable, Callable[[], T]], T]


class RowCache(Generic[T]):
    """Rows (or single cells) by key and signature, for one table.

    Use it one pass at a time (every row the table shows, as at a refresh or a tick)::

        with cache.building(styles) as row:
            cells = row(key, signature, lambda: build_cells(record))

    A pass forgets the rows it did not ask for, so the cache holds what the table holds; a
    pass with another ``context`` (the theme's styles, say) builds every row again.
    """

    def __init__(self) -> None:
        self._rows: dict[str, tuple[Hashable, T]] = {}
        self._context: Hashable = None
        #: rows built (not found) in the last pass
        self.built = 0

    def __len__(self) -> int:
        return len(self._rows)

    @contextmanager
    def building(self, context: Hashable = None) -> Iterator[RowFn[T]]:
        old = self._rows if context == self._context else {}
        fresh: dict[str, tuple[Hashable, T]] = {}
        built = 0

        def row(key: str, signature: Hashable, build: Callable[[], T]) -> T:
            nonlocal built
            hit = old.get(key)
            if hit is None or hit[0] != signature:
                hit = (signature, build())
                built += 1
            fresh[key] = hit
            return hit[1]

        yield row
        # only a whole pass replaces the cache (one that raised leaves the last one)
        self._rows = fresh
        self._context = context
        self.built = built
