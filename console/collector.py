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
* The middle generation is collected every second young pass (CPython: every eleventh, but
  its young passes come 30 times as often). What a refresh keeps (its snapshot, the rows and
  cells drawn from it) survives young passes, so a middle pass walks what survived every
  young pass since the last one: after six of them (every 5, as before) some 50,000 objects
  and the longest pause left, up to 17-40 ms in 10 s runs of the console benchmark; after
  two, up to 16-26 ms, for about the same collector time in all (an object that lives is
  walked by one middle pass either way). Paired 10 s runs: event-loop lag max 58 / 45 / 50 /
  53 ms against 68 / 66 / 44 / 69 ms; paired 150 s runs: 48 / 36 ms against 84 / 55 ms. A
  full pass still waits for 66 young passes, as before (33 middle ones; it also waits for the
  growth below): after 11 middle passes, CPython's count, one came 70 s in (62 ms), where
  none had come in 150 s. Collected far less often, the middle generation also held what
  dies in cycles after surviving one young pass, mostly Textual's virtual style nodes:
  83,000 objects after 37 s without a middle pass, and a 200 ms pause to free them. Those
  nodes now last as long as their widget (:mod:`console.component_styles`).

* The passes run between the event loop's steps, not inside them. CPython collects when an
  allocation crosses the threshold, so its passes landed inside the steps that allocate the most
  (a pane's rebuild from a snapshot, a paint of a new pane) and made the longest steps longer: a
  25-35 ms middle pass inside a 40 ms rebuild. A check on the loop every :data:`IDLE_CHECK_S`
  collects the youngest generation once :data:`IDLE_YOUNG` new objects are waiting (half of
  :data:`YOUNG_THRESHOLD`, which stays as the backstop for a step that allocates more), if the
  check came on time (one that came late follows a long step, and would add its pause to that
  step's), choosing the generation as CPython does (its thresholds, and a full pass only once the
  oldest generation has grown by a quarter of what the last one kept). Passes are also shorter, as
  each generation is collected with less in it. Side by side on the console benchmark (15 s runs,
  interleaved): event-loop lag max 57 / 66 ms against 92 / 95 ms, middle passes 8-15 ms against
  27-36 ms, young passes at most 10-15 ms. A full pass still walks every object promoted since the
  console settled (129,000 live ones after two minutes of the benchmark: the panes' tables and
  widgets, the current snapshot, Textual's virtual style nodes) in one pause: once in 120 s of the
  benchmark, 148 ms. Since those style nodes last (:mod:`console.component_styles`), and the full
  pass waits for the oldest generation to grow (:func:`generation_due`), once in 300 s, 55-59 ms:
  when the panes' first data and caches (64,500 objects in the oldest generation within seconds,
  86,000 after two minutes) have outgrown a quarter of what the console froze.

:func:`restore` gives everything back when the console closes (a process that opens several
consoles, the tests, frees each one's cycles).
"""

from __future__ import annotations

import asyncio
import gc

__all__ = [
    "IDLE_CHECK_S",
    "IDLE_YOUNG",
    "OLDER_THRESHOLDS",
    "YOUNG_THRESHOLD",
    "generation_due",
    "restore",
    "settle",
]

#: new tracked objects (allocations less deallocations) before the youngest generation is
#: collected; CPython's default is 700
YOUNG_THRESHOLD = 20_000
#: CPython's older thresholds: a middle pass once more than 1 young pass ran since the last one
#: (every second), a full pass once more than 32 middle passes did (and the oldest generation
#: has grown by a quarter of what the last one kept)
OLDER_THRESHOLDS = (1, 32)
#: new tracked objects before the check between the loop's steps collects
IDLE_YOUNG = YOUNG_THRESHOLD // 2
#: seconds between two checks
IDLE_CHECK_S = 0.05
#: a check that runs this much later than it was due finds the loop just busy (a step as long
#: as a frame), and collects at the next calm check instead (see :class:`_IdlePasses`)
IDLE_LATE_S = 0.005
#: seconds until that next check
IDLE_RETRY_S = 0.01
#: late checks in a row a pass waits through at most: a process that never wakes on time (its
#: cores busy with other work) still collects between steps, 50 ms later
IDLE_WAITS = 5

_saved: tuple[int, ...] | None = None
_idle: _IdlePasses | None = None


def generation_due(counts: tuple[int, int, int], pending: int, total: int) -> int:
    """The generation CPython's own collection would take with these counts: the oldest one
    whose count passed its threshold, the full one only when what the oldest generation
    gained since its last pass (``pending``) is at least a quarter of what that pass kept
    (``total``).

    CPython counts as gained every object it promoted. :class:`_IdlePasses` counts what is
    still there: a promoted object that reference counting freed since (a refresh's
    snapshot, rows of a table drawn again) is nothing a full pass would walk or free, and
    counted, it brought the next full pass, a walk of everything alive, sooner."""
    _, middle, old = counts
    if old > OLDER_THRESHOLDS[1] and pending >= total // 4:
        return 2
    if middle > OLDER_THRESHOLDS[0]:
        return 1
    return 0


class _IdlePasses:
    """The collector's passes taken on the event loop between its steps (module docstring).

    Only after a calm interval: a check that runs late (by :data:`IDLE_LATE_S`) ran right after
    a long step, a frame or a rebuild, and the loop may have more waiting (a key, the next
    frame). A pass there added its pause to that step's, in one stretch without the loop
    turning: a 42 ms middle pass right after an 11 ms step. It waits :data:`IDLE_RETRY_S` for
    a check that comes on time, through :data:`IDLE_WAITS` late ones at most: on a box so busy
    that the console never wakes on time (a test run beside heavy tests did), the pass must
    still come. Paired 10 s runs of the console benchmark (3-9 passes waited in each): event-loop
    lag max 42 / 41 / 33 / 43 ms against 76 / 56 / 58 / 43 ms. Over 150 s it made no
    difference (60 / 65 ms against 56 / 65 ms): there the longest pauses are single passes,
    young and middle ones of 30-40 ms when the host runs slow."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        #: what the oldest generation's last pass kept (settle's, since frozen)
        self.total = gc.get_freeze_count()
        #: the oldest generation's size after its last pass (settle froze all it had)
        self._kept = 0
        #: full passes run so far (CPython's own included: its backstop can take one)
        self._full_passes = gc.get_stats()[2]["collections"]
        #: the loop time the next check is due at (how late it runs tells a busy loop)
        self._due = 0.0
        #: late checks in a row that did not collect
        self._waited = 0
        self._handle = self._schedule(IDLE_CHECK_S)

    def _schedule(self, delay: float) -> asyncio.TimerHandle:
        self._due = self._loop.time() + delay
        return self._loop.call_at(self._due, self._check)

    @property
    def pending(self) -> int:
        """How much the oldest generation has grown since its last pass: objects promoted to
        it and still there (alive, or dead in cycles). A walk of that generation's list, 2-3
        ms at 90,000 objects, so :meth:`_check` reads it only when a full pass can be due."""
        return max(len(gc.get_objects(2)) - self._kept, 0)

    def _check(self) -> None:
        counts = gc.get_count()
        late = self._loop.time() - self._due > IDLE_LATE_S
        if counts[0] >= IDLE_YOUNG and late and self._waited < IDLE_WAITS:
            self._waited += 1
            self._handle = self._schedule(IDLE_RETRY_S)  # the loop was just busy
            return
        self._waited = 0
        self._handle = self._schedule(IDLE_CHECK_S)
        if counts[0] >= IDLE_YOUNG:
            # below its count a full pass is not due whatever the growth (generation_due)
            pending = self.pending if counts[2] > OLDER_THRESHOLDS[1] else 0
            self.collect(generation_due(counts, pending, self.total))

    def collect(self, generation: int) -> None:
        if generation == 1:
            if gc.get_stats()[2]["collections"] != self._full_passes:
                self._after_full_pass()  # CPython's own, from its threshold in a busy step
            gc.collect(1)
        elif generation == 2:
            gc.collect(2)
            self._after_full_pass()
        else:
            gc.collect(0)

    def _after_full_pass(self) -> None:
        self.total = len(gc.get_objects(2))
        self._kept = self.total
        self._full_passes = gc.get_stats()[2]["collections"]

    def stop(self) -> None:
        self._handle.cancel()


def settle() -> None:
    """Once the first frame is drawn: freeze what exists, collect less often, and (on an
    event loop) between the loop's steps."""
    global _saved, _idle
    gc.collect()
    gc.freeze()
    if _saved is None:
        _saved = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    if _idle is not None:
        _idle.stop()
    _idle = _IdlePasses(loop)


def restore() -> None:
    """The collector as it was before :func:`settle`, everything frozen handed back."""
    global _saved, _idle
    if _idle is not None:
        _idle.stop()
        _idle = None
    gc.unfreeze()
    if _saved is not None:
        gc.set_threshold(*_saved)
        _saved = None
