"""The console's garbage collector settings: pauses of the event loop kept short.

CPython's cyclic collector runs in whatever code allocates, with the GIL held, so each of its
passes is a pause of the console's event loop: a key, a refresh or a frame waits until it
ends. A pass walks every tracked object of the generations it collects, at about 0.5 µs an
object in this process (scattered across the heap: every visit a cache miss). These settings
keep the pauses short, taken once the first frame is drawn:

* What exists by then (modules, widgets, styles, the theme, the first snapshot) lives as
  long as the console: :func:`gc.freeze` sets it aside from every later pass. A full pass
  walked all of it: 230-370 ms pauses, every few refreshes, on a 2-core box.
* The youngest generation is collected after :data:`YOUNG_THRESHOLD` new objects, not
  CPython's 700. Each refresh builds a snapshot and the cells drawn from it and drops the
  previous one. At 700 the collector ran about 30 times during that build, so most of a
  snapshot was promoted to the oldest generation before it was dropped a second later; the
  promotions count towards the next full pass, which then came once a second and walked some
  90,000 objects of tables and render caches: 50-100 ms pauses. At 20,000 the previous
  snapshot is freed (by reference counting) before a collection looks and little is
  promoted. Measured on the console benchmark's cluster under CPU load (2 cores, two busy
  workers): young passes of 5-20 ms about once a second, a middle pass of 30-50 ms every
  5-10 s, no full pass in 30 s (before: one a second).
* The middle generation is collected every 5 young passes (CPython: 10, but its young
  passes come 30 times as often). Collected less often, it holds what dies in cycles after
  surviving one young pass, mostly Textual's virtual style nodes (a ``DOMNode`` and some 60
  objects around it for each component class, each time a table is restyled, as on every
  focus change): 83,000 objects after 37 s without a middle pass, and a 200 ms pause to free
  them.

:func:`restore` gives everything back when the console closes (a process that opens several
consoles, the tests, frees each one's cycles).
"""

from __future__ import annotations

import gc

__all__ = ["OLDER_THRESHOLDS", "YOUNG_THRESHOLD", "restore", "settle"]

#: new tracked objects (allocations less deallocations) before the youngest generation is
#: collected; CPython's default is 700
YOUNG_THRESHOLD = 20_000
#: young passes per middle one, middle passes per full one (a full pass also waits until the
#: objects promoted since the last one are a quarter of those it kept)
OLDER_THRESHOLDS = (5, 10)

_saved: tuple[int, ...] | None = None


def settle() -> None:
    """Once the first frame is drawn: freeze what exists and collect less often."""
    global _saved
    gc.collect()
    gc.freeze()
    if _saved is None:
        _saved = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)


def restore() -> None:
    """The collector as it was before :func:`settle`, everything frozen handed back."""
    global _saved
    gc.unfreeze()
    if _saved is not None:
        gc.set_threshold(*_saved)
        _saved = None
