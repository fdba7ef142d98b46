"""Pane 1: machines and their resources; cordon, uncordon and drain the selected one.

Which actions a cluster offers, and on which machine states, is :func:`console.offers.offer`'s
to say (a Curio cluster: cordon, uncordon, restart once cordoned, abort a restart; its ``d``
cordons and shows the running tasks, as Curio has no drain). A machine that reports no live
load (Curio's record none) shows its capacity and says so, never a bar of "?".

From 160 columns (the screen's ``-wide`` class) the jobs (what runs where now: the jobs pane's
:class:`JobsTable`) stand beside the machines, and only then does the pane ask for the jobs'
targets (``Pane.Needs``): at 80 columns the machines pane reads what it always read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import var
from textual.widgets import DataTable, Static

from engine.harmonytask.machine_state import MachineState
from engine.snapshot import duration
from engine.snapshot.hosts import group_hosts

from ..offers import MachineAction, offer
from ..widgets.cells import Styles, age, bar, num, short_size, text
from ..widgets.clauses import join_clauses
from ..widgets.jobs_table import JobsTable
from ..widgets.keyed_table import Column, KeyedTable
from ..widgets.row_cache import RowCache
from .base import Pane, PaneHeader

if TYPE_CHECKING:
    from engine.snapshot import ClusterSnapshot, MachineSnap

__all__ = [
    "MachinesPane",
    "contact_signature",
    "machine_cells",
    "machine_signature",
    "state_style",
    "uptime_signature",
]

COLUMNS = (
    Column("Machine", "name", 12),
    Column("State", "state", 10),
    Column("CPU", "cpu", 11),
    Column("RAM", "ram", 12),
    Column("GPU", "gpu", 7),
    Column("Run", "running", 3, right=True),
    # "stale 4m41s" whole: eleven characters (it read "stale 4m41" at 10)
    Column("Contact", "contact", 11),
    Column("Up", "uptime", 6, right=True),
    Column("Version", "version", 7),
    Column("Host:port", "host"),
)

#: columns of the CPU and RAM bars between their brackets: with the columns above, every
#: column through Contact fits 80 columns
BAR_WIDTH = 5

#: the header counts machines in this order
STATE_ORDER = (
    MachineState.ACTIVE,
    MachineState.CORDONED,
    MachineState.DRAINING,
    MachineState.DRAINED,
    MachineState.RESTARTING,
    MachineState.OFFLINE,
    MachineState.DEAD,
)


def state_style(styles: Styles, state: str) -> Style:
    if state == MachineState.ACTIVE:
        return styles.ok
    if state in (MachineState.CORDONED, MachineState.DRAINING, MachineState.RESTARTING):
        return styles.warn
    if state == MachineState.DRAINED:
        return styles.info
    if state == MachineState.OFFLINE:
        return Style(dim=True)  # it signed off: nothing to alarm anyone about
    return styles.crit


def contact_cell(m: MachineSnap, styles: Styles) -> Text:
    """When it was last heard from: a machine that left cleanly "left 9s" (it signed off 9 s
    ago; nothing was lost), one declared dead "lost 9s", one overdue "stale 9s"."""
    if m.state == MachineState.OFFLINE:
        return Text(f"left {duration(m.contact_age)}", style="dim", no_wrap=True)
    if not m.alive:
        return Text(f"lost {duration(m.contact_age)}", style=styles.crit, no_wrap=True)
    if m.stale:
        return Text(f"stale {duration(m.contact_age)}", style=styles.warn, no_wrap=True)
    return Text(f"{duration(m.contact_age)} ago", no_wrap=True)


#: the capacity columns of a machine that reports no live use: sizes only, dim, no bar
NO_LOAD = "capacity only: load not reported by Curio"


def machine_cells(m: MachineSnap, styles: Styles) -> tuple[Text, ...]:
    """One machine's row. A machine that left or was declared dead shows its capacity dim and
    no bar: its last load is not its host's load now."""
    if m.reports_load and m.alive:
        ram_fraction = (m.ram_used / m.ram) if m.ram_used is not None and m.ram else None
        cpu = bar(m.cpu_load, BAR_WIDTH, styles, suffix=f"{m.cpu:>3}c")
        ram = bar(ram_fraction, BAR_WIDTH, styles, suffix=f"{short_size(m.ram):>5}")
        gpu = (
            bar(m.gpu_used, 3, styles, suffix=f"{m.gpu:g}") if m.gpu > 0 else Text("-", style="dim")
        )
    elif m.reports_load:
        # the bar's place left blank, the capacity where the live rows show theirs
        blank = " " * (BAR_WIDTH + 2)
        cpu = Text(f"{blank}{m.cpu:>3}c", style="dim", no_wrap=True)
        ram = Text(f"{blank}{short_size(m.ram):>5}", style="dim", no_wrap=True)
        gpu = Text(f"{'':5}{m.gpu:g}" if m.gpu > 0 else "-", style="dim", no_wrap=True)
    else:
        cpu = Text(f"{m.cpu} cores", no_wrap=True)
        ram = Text(short_size(m.ram), no_wrap=True)
        gpu = Text(f"{m.gpu:g}", no_wrap=True) if m.gpu > 0 else Text("-", style="dim")
    return (
        text(m.label, styles.bold),
        text(m.state, state_style(styles, m.state)),
        cpu,
        ram,
        gpu,
        num(m.running, styles.info if m.running else ""),
        contact_cell(m, styles),
        age(m.uptime),
        text(m.version or "-"),
        text(m.host_and_port, "dim"),
    )


#: the columns that move with the clock and each heartbeat (kept apart from the rest of a row)
CONTACT = next(i for i, c in enumerate(COLUMNS) if c.key == "contact")
UPTIME = next(i for i, c in enumerate(COLUMNS) if c.key == "uptime")


def machine_signature(m: MachineSnap) -> Hashable:
    """Everything :func:`machine_cells` draws a machine's row from but its contact and uptime
    (:func:`contact_signature`, :func:`uptime_signature`): while this is the same, so are the
    row's other cells."""
    return (
        m.name,
        m.host_and_port,
        m.state,
        m.reports_load,
        m.cpu,
        m.ram,
        m.gpu,
        m.cpu_load,
        m.ram_used,
        m.gpu_used,
        m.running,
        m.version,
    )


def contact_signature(m: MachineSnap) -> Hashable:
    """What the contact cell reads: it changes with every heartbeat and every second."""
    return (m.state == MachineState.OFFLINE, m.alive, m.stale, duration(m.contact_age))


def uptime_signature(m: MachineSnap) -> Hashable:
    """What the uptime cell reads (start-up to the last heartbeat)."""
    uptime = m.uptime
    return None if uptime is None else duration(uptime)


def capacity_clauses(machines: tuple[MachineSnap, ...]) -> list[Text]:
    """The cluster's cores and their use, each host counted once (machines on one host share
    its cores), and how many hosts when that differs from the live machines."""
    hosts = group_hosts(machines)
    alive = sum(1 for m in machines if m.alive)
    cores = sum(h.cpu for h in hosts)
    on = f" on {len(hosts)} host{'s' if len(hosts) != 1 else ''}" if len(hosts) != alive else ""
    if all(m.reports_load for m in machines):
        busy = sum(h.busy_cores for h in hosts)
        return [Text(f"CPU {busy:.0f} of {cores} cores busy{on}")]
    return [Text(f"{cores} cores{on}"), Text("load not reported by Curio", style="dim")]


class MachinesPane(Pane):
    """Every machine: capacity and live use, running tasks, contact, uptime, state."""

    SECTION = "machines"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "machine('cordon')", "Cordon", id="console.cordon"),
        Binding("u", "machine('uncordon')", "Uncordon", id="console.uncordon"),
        Binding("d", "machine('drain')", "Drain", id="console.drain"),
        Binding("R", "machine('request_restart')", "Restart", id="console.machine_restart"),
        Binding("A", "machine('abort_restart')", "Abort restart", id="console.abort_restart"),
    ]

    #: the key of the highlighted row (which actions apply depends on its machine's state)
    highlighted: var[str | None] = var(None, bindings=True)

    class ActionRequested(Message):
        """An action on a machine (the app asks the operator first)."""

        def __init__(self, kind: MachineAction, machine_id: int) -> None:
            super().__init__()
            self.kind: MachineAction = kind
            self.machine_id = machine_id

    def __init__(self, *, id: str | None = None, read_only: bool = False) -> None:
        super().__init__(id=id, read_only=read_only)
        self._wide = False  # the jobs are beside the machines (the screen is -wide)
        #: each machine's row as last built, and its contact and uptime cells as last drawn
        #: (1,000 machines are not built again at each refresh)
        self._rows: RowCache[tuple[Text, ...]] = RowCache()
        self._contacts: RowCache[Text] = RowCache()
        self._uptimes: RowCache[Text] = RowCache()

    def compose(self) -> ComposeResult:
        yield PaneHeader(self.WAITING, id="machines-header")
        # machines | jobs from 160 columns (console.tcss: Screen.-wide #machines-body); the
        # jobs are hidden below that
        with Vertical(id="machines-body"):
            yield KeyedTable(COLUMNS, id="machines-table")
            with Vertical(id="machines-jobs"):
                yield Static(id="machines-jobs-title", classes="section-title")
                yield JobsTable(lambda: self.palette, id="machines-jobs-table")

    @property
    def jobs_table(self) -> JobsTable:
        return self.query_one("#machines-jobs-table", JobsTable)

    def on_mount(self) -> None:
        self._wide = self.screen.has_class("-wide")

    def on_resize(self) -> None:
        # The screen takes or drops -wide as it resizes (before its children are laid out):
        # the jobs come or go, and with them the list the pane needs.
        wide = self.screen.has_class("-wide")
        if wide != self._wide:
            self._wide = wide
            self.post_needs()
            self.rerender()

    def needs(self) -> Pane.Needs:
        return Pane.Needs(self, {"jobs"} if self._wide else ())

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#machines-table", KeyedTable)

    @property
    def filter_table(self) -> KeyedTable:
        return self.table

    def selected_machine_id(self) -> int | None:
        key = self.table.selected_key
        return int(key) if key is not None else None

    def render_snapshot(self, snap: ClusterSnapshot) -> None:
        styles = self.palette
        header = self.query_one("#machines-header", PaneHeader)
        if not snap.machines:
            header.update(
                Text(
                    "no machines have joined the cluster yet: start one with "
                    "`harmony run --engine-only`"
                )
            )
            self.table.sync({})
            return
        states = Counter(m.state for m in snap.machines)
        count = len(snap.machines)
        summary = Text()
        summary.append(f"{count} machine{'s' if count != 1 else ''}: ", style=styles.bold)
        summary.append(", ".join(f"{states[s]} {s}" for s in STATE_ORDER if states[s]))
        clauses = [summary]
        stale = sum(1 for m in snap.machines if m.stale)
        if stale:
            clauses.append(Text(f"{stale} stale", style=styles.warn))
        clauses.append(Text(f"{len(snap.running)} running"))
        clauses.extend(capacity_clauses(snap.machines))
        rows = {}
        with (
            self._rows.building(styles) as row,
            self._contacts.building(styles) as contact,
            self._uptimes.building() as uptime,
        ):
            for m in snap.machines:
                key = str(m.id)
                cells = list(row(key, machine_signature(m), partial(machine_cells, m, styles)))
                heard = partial(contact_cell, m, styles)
                cells[CONTACT] = contact(key, contact_signature(m), heard)
                cells[UPTIME] = uptime(key, uptime_signature(m), partial(age, m.uptime))
                if self.matches(*cells):
                    rows[key] = cells
        line = join_clauses(clauses, header.line_width)
        line.append(self.filter_note(len(rows), len(snap.machines)))
        header.update(line)
        self.table.sync(rows)
        if self._wide:
            self._render_jobs(snap, self.now)

    def _render_jobs(self, snap: ClusterSnapshot, now: datetime | None) -> None:
        """The jobs beside the machines, under a title that counts them (the filter is the
        machines', so the jobs are all shown)."""
        _, total = self.jobs_table.show(snap, now)
        title = Text(no_wrap=True, overflow="ellipsis")
        if not total:
            title.append("no task is running now", style="dim")
        else:
            stopping = sum(1 for j in self.jobs_table.jobs if j.state != "running")
            title.append(f"{total} job{'s' if total != 1 else ''}", style=self.palette.bold)
            title.append(" running" + (f" ({stopping} stopping or lost)" if stopping else ""))
            title.append("; enter: the task's attempts, 6: the jobs pane", style="dim")
        problem = snap.error("jobs")
        if problem:
            title.append(f"; targets not read: {problem}", style=self.palette.warn)
        self.query_one("#machines-jobs-title", Static).update(title)

    def tick(self, now: datetime) -> None:
        snap = self.snapshot
        if self._wide and snap is not None and snap.error(self.SECTION) is None:
            self.jobs_table.tick(snap, now)  # elapsed times move on between refreshes

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "machine":
            if self.read_only:
                return False
            snap = self.snapshot
            cluster = snap.cluster if snap is not None else "harmony"
            machine_id = self.selected_machine_id()
            machine = (
                snap.machine(machine_id) if snap is not None and machine_id is not None else None
            )
            return offer(cluster, str(parameters[0]), machine, busy=self.busy)
        return True

    def action_machine(self, kind: MachineAction) -> None:
        machine_id = self.selected_machine_id()
        if machine_id is not None:
            self.post_message(self.ActionRequested(kind, machine_id))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table is self.table:
            self.highlighted = event.row_key.value

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is None:
            return
        if event.data_table is self.table:
            self.post_message(self.DetailRequested("machine", str(event.row_key.value)))
        else:  # a job: its task's attempts
            self.post_message(self.DetailRequested("task", str(event.row_key.value)))
