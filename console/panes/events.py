"""Pane 8: what happened in the cluster, newest first (``harmony events`` prints the same list).

Machines joined, left, declared dead, cordoned, drained; tasks failed (with their error) and
restarted; sectors failed and resumed; WindowPoSt submitted or missed, faults and recoveries
declared; blocks won or missed: the first place to look after "what just happened?". The list
is read only while the pane is on screen (``LISTS``), one bounded statement
(:mod:`engine.snapshot.events`).

Keys pick the kinds (``a`` all, ``f`` failures, ``m`` machines, ``t`` tasks, ``s`` sectors,
``o`` PoSt, ``b`` blocks), ``/`` filters by text, ``enter`` opens the drill-down of the sector
an event is about (a sector failed, resumed or expired) and shows any other event whole (an
error's every line), as ``d`` shows every event. New events come in at the top: the list
follows them while the cursor is on the newest, and otherwise keeps the selected event where it
was on screen. From 160 columns the selected event is shown beside the list.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, VerticalScroll
from textual.reactive import var
from textual.widgets import DataTable, Static

from engine.snapshot import ClusterSnapshot, duration
from engine.snapshot.events import EventKind, EventSnap, kind_matches, select_events

from ..widgets.cells import Styles, text
from ..widgets.keyed_table import Column, KeyedTable
from .base import Pane, PaneHeader

__all__ = ["KIND_KEYS", "LABELS", "EventsPane", "sector_key"]

COLUMNS = (
    Column("Time", "time", 8),
    Column("Age", "age", 5, right=True),
    Column("Kind", "kind", 12),
    Column("Machine", "machine", 12),
    Column("Subject", "subject", 13),
    Column("Message", "message", fill=True),
)

#: each kind's short label (the Kind column is 12 wide: every column fits 80)
LABELS: dict[str, str] = {
    EventKind.MACHINE_JOINED: "joined",
    EventKind.MACHINE_LEFT: "left",
    EventKind.MACHINE_DEAD: "dead",
    EventKind.MACHINE_CORDONED: "cordoned",
    EventKind.MACHINE_UNCORDONED: "uncordoned",
    EventKind.MACHINE_DRAIN: "drain",
    EventKind.MACHINE_DRAINED: "drained",
    EventKind.MACHINE_RESTART: "restart req",
    EventKind.TASK_FAILED: "task failed",
    EventKind.TASK_RETRY: "task retry",
    EventKind.TASK_LOST: "task lost",
    EventKind.TASK_RESTARTED: "restarted",
    EventKind.SECTOR_FAILED: "sector fail",
    EventKind.SECTOR_RESUMED: "resumed",
    EventKind.POST_SUBMITTED: "PoSt sent",
    EventKind.POST_MISSED: "PoSt missed",
    EventKind.POST_FAULTS: "faults decl",
    EventKind.POST_RECOVERY: "recovery",
    EventKind.BLOCK_WON: "block won",
    EventKind.BLOCK_MISSED: "block missed",
}

#: key -> (kind selector of engine.snapshot.events, label in the kinds line)
KIND_KEYS: dict[str, tuple[str, str]] = {
    "a": ("all", "all"),
    "f": ("failures", "failures"),
    "m": ("machines", "machines"),
    "t": ("tasks", "tasks"),
    "s": ("sectors", "sectors"),
    "o": ("post", "PoSt"),
    "b": ("blocks", "blocks"),
}
#: kind selector -> its label in the kinds line
KIND_LABELS = dict(KIND_KEYS.values())


class EventsPane(Pane):
    """The cluster's events, newest first, filtered by kind and text."""

    SECTION = "events"
    LISTS = frozenset({"events"})
    # its wide layout is written against the screen's ``-wide`` class
    SCOPED_CSS = False

    DEFAULT_CSS = """
    #events-body {
        height: 1fr;
    }
    #events-detail {
        display: none;
        height: auto;
        max-height: 10;
        padding: 0 1;
        background: $boost;
    }
    #events-detail.-open {
        display: block;
    }
    Screen.-wide #events-body {
        layout: horizontal;
    }
    Screen.-wide #events-table {
        width: 1fr;
    }
    Screen.-wide #events-detail {
        display: block;
        width: 56;
        height: 1fr;
        max-height: 100%;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(key, f"kind('{selector}')", label, show=key in "af", id=f"console.events.{key}")
            for key, (selector, label) in KIND_KEYS.items()
        ),
        Binding("enter", "open", "Sector or details", show=False, id="console.events.open"),
        Binding("d", "details", "Details", show=False, id="console.events.details"),
    ]

    #: which kinds are shown (a selector of engine.snapshot.events.kind_matches)
    kind: var[str] = var("all", init=False)
    #: the selected event is shown whole below the list (always beside it from 160 columns)
    details_open: var[bool] = var(False, init=False)

    def __init__(self, *, id: str | None = None, read_only: bool = False) -> None:
        super().__init__(id=id, read_only=read_only)
        #: the rows as built (by event key: its machine's name, and its cells)
        self._rows: dict[str, tuple[str, tuple[Text, ...]]] = {}
        #: the events shown and the age each shows
        self._shown: list[EventSnap] = []
        self._ages: dict[str, tuple[str, Text]] = {}

    def compose(self) -> ComposeResult:
        yield PaneHeader(self.WAITING, id="events-header")
        yield Static(id="events-kinds", classes="view-tabs")
        with Container(id="events-body"):
            yield KeyedTable(COLUMNS, id="events-table")
            with VerticalScroll(id="events-detail"):
                yield Static(id="events-detail-text")

    def on_mount(self) -> None:
        self._render_kinds()

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#events-table", KeyedTable)

    @property
    def filter_table(self) -> KeyedTable:
        return self.table

    # ------------------------------------------------------------------ keys

    def action_kind(self, selector: str) -> None:
        self.kind = selector

    def watch_kind(self) -> None:
        self._render_kinds()
        self.rerender()

    def action_details(self) -> None:
        self.details_open = not self.details_open

    def selected_event(self) -> EventSnap | None:
        snap, key = self.snapshot, self.table.selected_key
        if snap is None or key is None:
            return None
        return next((e for e in snap.events.events if e.key == key), None)

    def action_open(self) -> None:
        """``enter``: the sector's drill-down for an event about one sector, else the event
        whole (``d`` shows a sector's event whole too)."""
        event = self.selected_event()
        key = sector_key(event) if event is not None else None
        if key is not None:
            self.post_message(self.DetailRequested("sector", key))
        else:
            self.action_details()

    def watch_details_open(self, open_: bool) -> None:
        self.query_one("#events-detail").set_class(open_, "-open")
        self._render_detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._render_detail()

    def _render_kinds(self) -> None:
        line = Text(no_wrap=True, overflow="ellipsis")
        for key, (selector, label) in KIND_KEYS.items():
            style = "reverse bold" if selector == self.kind else "dim"
            line.append(f" {key} {label} ", style=style)
            line.append(" ")
        self.query_one("#events-kinds", Static).update(line)

    # ------------------------------------------------------------------ rendering

    def _now(self, snap: ClusterSnapshot) -> datetime:
        return self.now or snap.taken_at

    def shown(self, snap: ClusterSnapshot) -> list[EventSnap]:
        """The events the table shows: of the chosen kinds, containing the filter."""
        return select_events(snap.events.events, kind=self.kind, text=self.filter_text or None)

    def render_snapshot(self, snap: ClusterSnapshot) -> None:
        styles = self.palette
        ev = snap.events
        events = self.shown(snap)
        line = Text()
        if ev.since is None:
            line.append("reading the events...")
        else:
            failures = sum(1 for e in ev.events if e.failure)
            window = _window((snap.taken_at - ev.since).total_seconds())
            line.append("events: ", style=styles.bold)
            line.append(f"{len(ev.events):,} in the last {window}")
            if ev.full:
                line.append(f" (the newest {ev.limit})", style="dim")
            line.append(", ")
            line.append(f"{failures:,} failures", style=styles.crit if failures else "")
            if self.kind != "all" or self.filter_text:
                line.append(f"; showing {len(events):,}")
                if self.kind != "all":  # as the kinds line names it: "PoSt", not "post"
                    line.append(f" {KIND_LABELS.get(self.kind, self.kind)}")
                if self.filter_text:
                    line.append(f" with '{self.filter_text}'")
            if ev.unsupported:  # which ones: ? and `harmony events --help`
                line.append(f"; {len(ev.unsupported)} kinds Curio keeps no record of", style="dim")
            if not ev.events:
                line.append(" (nothing happened)", style="dim")
        self.query_one("#events-header", PaneHeader).update(line)
        self._sync(events, self._now(snap))
        self._render_detail()

    def tick(self, now: datetime) -> None:
        """Once a second: only the ages that changed are redrawn (an event never changes)."""
        moved = {}
        for e in self._shown:
            age = duration(e.age(now))
            shown = self._ages.get(e.key)
            if shown is None or shown[0] != age:
                cell = text(age, "dim", right=True)
                self._ages[e.key] = (age, cell)
                moved[e.key] = cell
        self.table.set_cells("age", moved)

    def _cells(self, e: EventSnap, age: str, machine: str, styles: Styles) -> tuple[Text, ...]:
        return (
            text(e.at.strftime("%H:%M:%S")),
            text(age, "dim", right=True),
            text(LABELS.get(e.kind, e.kind), styles.crit if e.failure else styles.bold),
            text(machine or "-", "" if machine else "dim"),
            text(e.subject or "-", "" if e.subject else "dim"),
            text(e.line, styles.crit if e.failure else ""),
        )

    def _sync(self, events: list[EventSnap], now: datetime) -> None:
        """Show ``events``; new ones arrive on top. On the newest row the cursor follows the
        newest; elsewhere it stays on its event, and the view scrolls by as many rows as
        arrived above, so what the operator reads does not move."""
        table = self.table
        selected = table.selected_key
        following = table.row_count == 0 or table.cursor_row <= 0
        before = table.cursor_row
        # a machine by its name where the cluster still knows it (the event keeps its address)
        snap = self.snapshot
        names = {m.host_and_port: m.name for m in snap.machines} if snap is not None else {}
        styles = self.palette
        # An event never changes: its row is built once (again only if its machine's name
        # did), and a refresh that brings nothing new only redraws the ages that changed.
        rows: dict[str, tuple[Text, ...]] = {}
        built = False
        for e in events:
            machine = names.get(e.machine, e.machine)
            cached = self._rows.get(e.key)
            if cached is None or cached[0] != machine:
                age = duration(e.age(now))
                cells = self._cells(e, age, machine, styles)
                cached = (machine, cells)
                self._ages[e.key] = (age, cells[1])
                built = True
            self._rows[e.key] = cached
            cells = cached[1]
            # the age as last drawn (the tick redraws it between refreshes)
            rows[e.key] = (cells[0], self._ages[e.key][1], *cells[2:])
        self._rows = {k: self._rows[k] for k in rows}
        self._ages = {k: self._ages[k] for k in rows}
        self._shown = events
        if built or list(rows) != table.keys:
            table.sync(rows)
        self.tick(now)
        if not table.row_count:
            return
        if following:
            if table.cursor_row != 0:
                table.move_cursor(row=0, animate=False)
        elif selected is not None and selected in table.rows:
            moved = table.get_row_index(selected) - before
            if moved:
                table.scroll_y = table.scroll_y + moved

    def _render_detail(self) -> None:
        if not self.is_mounted:
            return
        detail = self.query_one("#events-detail-text", Static)
        snap = self.snapshot
        event = self.selected_event()
        if event is None:
            detail.update(Text("no event selected", style="dim"))
            return
        styles = self.palette
        out = Text()
        out.append(
            LABELS.get(event.kind, event.kind), style=styles.crit if event.failure else "bold"
        )
        out.append(f"  {event.kind}\n", style="dim")
        out.append(f"{event.at:%Y-%m-%d %H:%M:%S} UTC")
        if snap is not None:
            out.append(f" ({duration(event.age(self._now(snap)))} ago)", style="dim")
        out.append("\n")
        if event.machine:
            known = snap.machine(event.machine_id) if snap and event.machine_id else None
            also = [] if known is None or known.name == event.machine else [event.machine]
            if event.machine_id is not None:
                also.append(f"id {event.machine_id}")
            shown = known.name if known is not None else event.machine
            out.append(f"machine {shown}" + (f" ({', '.join(also)})" if also else "") + "\n")
        if event.subject:
            out.append(f"{event.subject}\n")
        out.append(event.message or "(no message)")
        detail.update(out)

    def show_kind(self, selector: str) -> bool:
        """Select kinds by a selector (the palette and tests); False if it names none."""
        if selector == "all" or any(kind_matches(k, selector) for k in EventKind):
            self.kind = selector
            return True
        return False


def sector_key(event: EventSnap) -> str | None:
    """``"sp_id:number"`` of the sector an event is about (the drill-down's key), or None."""
    if event.sp_id is None or event.sector_number is None:
        return None
    return f"{event.sp_id}:{event.sector_number}"


def _window(seconds: float) -> str:
    """The window's length as an operator says it: ``24h``, ``90m``, ``2d``."""
    if seconds >= 2 * 86400 and seconds % 86400 == 0:
        return f"{int(seconds // 86400)}d"
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    return duration(seconds)
