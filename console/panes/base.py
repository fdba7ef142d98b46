"""What every pane shares: a header line of totals, an optional filter, snapshot rendering.

A pane never queries and never calls the app. Attributes come down: the app binds its
``snapshot``, ``now`` and ``busy`` into every pane (``data_bind``), and sets ``filter_text``
from the filter box. Requests go up as messages: :class:`Pane.DetailRequested` (enter on a row),
:class:`Pane.Needs` (which detail lists the pane shows, so only those are re-read), and the
actions of the machines and tasks panes.

Only the active pane (the app binds ``active_pane`` too) renders a new snapshot; a hidden one
renders when it becomes active again, in the same frame as the switch, so a refresh costs one
pane's work however many panes there are.

A section the reader could not read this time (``snapshot.error(pane.SECTION)``) is shown in
that pane's header, one line, with its lists emptied; the other panes render as usual. Before the
first snapshot, a database that cannot be reached (or read) is said in every pane's header, with
the error and when the next try comes, counting down.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from rich.text import Text
from textual.actions import parse as parse_action
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import var
from textual.widgets import Static

from engine.snapshot import duration

from ..feed import FeedState
from ..widgets.cells import Styles, styles_for
from ..widgets.keyed_table import KeyedTable

if TYPE_CHECKING:
    from engine.snapshot import ClusterSnapshot

__all__ = ["DetailKind", "Pane", "PaneHeader"]

DetailKind = Literal["machine", "sector", "storage", "task", "job"]


class PaneHeader(Static):
    """The totals line at the top of a pane."""

    @property
    def line_width(self) -> int:
        """Cells a line of it may use: its content width once laid out, before that (a pane's
        first refresh can come before its first layout) the screen's width less its padding,
        so the first frame is cut into lines the same way as every later one."""
        return self.content_size.width or max(self.app.size.width - 2, 0)

    DEFAULT_CSS = """
    PaneHeader {
        height: auto;
        padding: 0 1;
        background: $boost;
    }
    """


class Pane(Vertical):
    """Base of the five panes."""

    DEFAULT_CSS = """
    Pane {
        height: 1fr;
    }
    """

    #: what the pane says before the first snapshot arrived
    WAITING = "waiting for the first refresh..."
    #: the snapshot's detail lists this pane shows (see SnapshotReader.snapshot)
    LISTS: frozenset[str] = frozenset()
    #: the snapshot section this pane draws (one of engine.snapshot.SECTIONS)
    SECTION = ""

    #: the cluster as last read (bound to the app's). Not ``bindings=True``: that rebuilt the
    #: footer once per pane at every refresh; :meth:`_refresh_offers` does it on a change.
    snapshot: var[ClusterSnapshot | None] = var(None, init=False)
    #: the clock's time, once a second (bound to the app's)
    now: var[datetime | None] = var(None, init=False)
    #: an operator action is under way: its keys wait (bound to the app's)
    busy: var[bool] = var(False, bindings=True)
    #: rows shown contain this, case-insensitively
    filter_text: var[str] = var("", init=False)
    #: the id of the pane on screen (bound to the app's): only that one renders
    active_pane: var[str] = var("", init=False)
    #: the connection (bound to the app's): its error is shown while there is no snapshot
    feed_state: var[FeedState] = var(FeedState, init=False)
    #: when the feed tries again after that error (bound to the app's)
    retry_at: var[datetime | None] = var(None, init=False)

    class Needs(Message):
        """The pane was shown or changed view: these lists (and this history filter) are what it
        shows now."""

        def __init__(
            self, pane: Pane, lists: Collection[str], history_filter: str | None = None
        ) -> None:
            super().__init__()
            self.pane = pane
            self.lists = frozenset(lists)
            self.history_filter = history_filter

    class DetailRequested(Message):
        """Enter on a row (or the palette): open the detail view of a machine, a sector
        (``"sp_id:sector"``) or a storage path, a running task (``"job"``: its id), or a
        task's attempts (``"task"``: its id)."""

        def __init__(self, kind: DetailKind, key: str) -> None:
            super().__init__()
            self.kind: DetailKind = kind
            self.key = key

    def __init__(self, *, id: str | None = None, read_only: bool = False) -> None:
        super().__init__(id=id)
        #: no actions: the console works under a role that may only SELECT
        self.read_only = read_only
        self._behind = False  # a snapshot arrived while it was not active
        self._offers: tuple[bool | None, ...] | None = None  # see _refresh_offers
        #: the filter, lower-cased (asked for once a row: 2,000 reactive reads a render)
        self._needle = ""

    @property
    def is_active(self) -> bool:
        """This is the pane on screen."""
        return self.active_pane == self.id

    @property
    def palette(self) -> Styles:
        return styles_for(self.app)

    # ------------------------------------------------------------------ rendering

    def watch_snapshot(self, snap: ClusterSnapshot | None) -> None:
        self.rerender()

    def watch_now(self, now: datetime | None) -> None:
        if self.snapshot is None:
            self.show_waiting()
        elif self.is_active and now is not None:
            self.tick(now)

    def watch_feed_state(self) -> None:
        self.show_waiting()

    def watch_retry_at(self) -> None:
        self.show_waiting()

    def show_waiting(self) -> None:
        """No snapshot yet: say why (the error, the next try) instead of waiting silently."""
        if self.snapshot is not None:
            return
        header = self.query(PaneHeader)
        if header:
            header.first().update(waiting_text(self.feed_state, self.retry_at, self.now))

    def _watch_filter_text(self, text: str) -> None:
        # private: Textual calls it before the public watcher, which panes override
        self._needle = text.lower()

    def watch_filter_text(self) -> None:
        self.rerender()

    def watch_active_pane(self) -> None:
        if self.is_active:
            self.post_needs()
            if self._behind:
                self.rerender()

    def needs(self) -> Pane.Needs:
        """What this pane shows now."""
        return Pane.Needs(self, self.LISTS)

    def post_needs(self) -> None:
        """Tell the app what this pane shows, if it is the one on screen."""
        if self.is_active:
            self.post_message(self.needs())

    def render_snapshot(self, snap: ClusterSnapshot) -> None:
        raise NotImplementedError

    def render_error(self, snap: ClusterSnapshot, message: str) -> None:
        """The section could not be read: say why in the header, show no rows (panes with
        more than tables extend this)."""
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(f"cannot read the {self.SECTION or self.id}: ", style=self.palette.crit)
        line.append(message)
        self.query_one(PaneHeader).update(line)
        for table in self.query(KeyedTable):
            table.sync({})

    def tick(self, now: datetime) -> None:
        """Once a second: panes with countdowns redraw them."""

    def rerender(self, *, hidden: bool = False) -> None:
        """Render the current snapshot now if the pane is active (or ``hidden`` says to anyway),
        else when it becomes active."""
        if self.snapshot is None:
            return
        if not (self.is_active or hidden):
            self._behind = True
            return
        self._behind = False
        snap = self.snapshot
        error = snap.error(self.SECTION) if self.SECTION else None
        with self.app.batch_update():
            if error is not None:
                self.render_error(snap, error)
            else:
                self.render_snapshot(snap)
        self._refresh_offers()

    def warm(self) -> None:
        """Hidden, render the current snapshot once, so the tables have their rows before the
        pane is first shown (see ``HarmonyConsole._warm_panes``); shown, it renders again (its
        header is fitted to a width a hidden pane does not have), which then only changes what
        moved."""
        if self.snapshot is None or self.is_active or not self.is_mounted:
            return
        self.rerender(hidden=True)
        self._behind = True

    def _refresh_offers(self) -> None:
        """Redraw the footer's keys only when a snapshot changed what they offer (a machine
        that became cordoned offers uncordon). Refreshing the bindings at every snapshot made
        Textual's footer rebuild all its keys once per pane per refresh: most of the console's
        CPU, the event loop's lag and a slow pane switch, at any cluster size."""
        offers = tuple(
            self.check_action(name, parameters)
            for bindings in self._bindings.key_to_bindings.values()
            for binding in bindings
            for _, name, parameters in (parse_action(binding.action),)
        )
        if offers != self._offers:
            self._offers = offers
            self.refresh_bindings()

    # ------------------------------------------------------------------ filtering

    @property
    def filter_table(self) -> KeyedTable | None:
        """The table ``/`` filters (the one visible and focused, normally)."""
        return None

    def matches(self, *cells: Any) -> bool:
        """Whether a row (its cells' plain text) contains the filter, case-insensitively."""
        needle = self._needle
        if not needle:
            return True
        return any(needle in (c.plain if isinstance(c, Text) else str(c)).lower() for c in cells)

    def filter_note(self, shown: int, total: int) -> str:
        if not self.filter_text:
            return ""
        return f"  filter '{self.filter_text}': {shown} of {total}"

    def focus_main(self) -> None:
        table = self.filter_table
        if table is not None:
            table.focus()

    def select(self, key: str, view: str | None = None) -> None:
        """Show the row with ``key`` (in ``view``, for panes with several), filter cleared."""
        self.filter_text = ""
        self.rerender(hidden=True)  # the row must be there before the pane is shown
        table = self.filter_table
        if table is not None:
            table.select_key(key)


def waiting_text(state: FeedState, retry_at: datetime | None, now: datetime | None) -> Text:
    """A pane's header before the first snapshot: waiting, or the error and the next try."""
    if state.error is None:
        return Text(Pane.WAITING)
    what = "cannot read the cluster" if state.connected else "cannot reach the database"
    line = Text()
    line.append(what, style="bold red")
    if retry_at is not None and now is not None:
        left = (retry_at - now).total_seconds()
        when = f"in {duration(left)}" if left >= 0.5 else "now"
        line.append(f" (trying again {when}, at {retry_at:%H:%M:%S} UTC)")
    line.append(f": {state.error}")
    return line
