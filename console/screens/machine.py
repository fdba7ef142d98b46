"""One machine in detail: capacity, use, state, and its running tasks with elapsed time.

Live: the app binds its snapshot and clock into the screen, so every refresh redraws it and the
elapsed and expected times move each second between refreshes. ``c``/``u``/``d`` (and, where
the cluster offers them, ``R`` restart and ``A`` abort a restart) ask for an action on it, the
same request as the machines pane's; ``esc`` goes back.

Opened ``watching`` after ``d`` on a Curio cluster (which has no drain: ``d`` cordoned it), it
heads the list with the tasks still running there and the PoSt deadlines their expected end
overlaps, counting down until none is left.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import Static

from engine.harmonytask.machine_state import MachineState
from engine.snapshot import (
    ClusterSnapshot,
    MachineSnap,
    drain_plan,
    duration,
    remaining_seconds,
)
from engine.storage import size_str

from ..offers import MachineAction, offer
from ..panes.machines import MachinesPane, state_style
from ..widgets.cells import age, ident, num, styles_for, text
from ..widgets.key_bar import KeyBar
from ..widgets.keyed_table import Column, KeyedTable

__all__ = ["MachineScreen", "machine_info"]

COLUMNS = (
    Column("Task ID", "id", 9, right=True),
    Column("Type", "name", 16),
    Column("Elapsed", "elapsed", 8, right=True),
    Column("Left (est.)", "left", 11, right=True),
    Column("Attempt", "attempt", 7, right=True),
    Column("Posted", "posted", 9),
)


class MachineScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="console.machine.back"),
        Binding("c", "act('cordon')", "Cordon", id="console.machine.cordon"),
        Binding("u", "act('uncordon')", "Uncordon", id="console.machine.uncordon"),
        Binding("d", "act('drain')", "Drain", id="console.machine.drain"),
        Binding("R", "act('request_restart')", "Restart", id="console.machine.restart"),
        Binding("A", "act('abort_restart')", "Abort restart", id="console.machine.abort"),
    ]

    #: the cluster as last read (bound to the app's)
    snapshot: var[ClusterSnapshot | None] = var(None, init=False, bindings=True)
    #: the clock's time (bound to the app's): the times move between refreshes
    now: var[datetime | None] = var(None, init=False)
    #: an operator action is under way (bound to the app's)
    busy: var[bool] = var(False, bindings=True)

    def __init__(self, machine_id: int, *, read_only: bool = False, watching: bool = False) -> None:
        super().__init__()
        self.machine_id = machine_id
        self.read_only = read_only
        #: opened after a Curio "drain" (a cordon): show the running tasks ending
        self.watching = watching

    def compose(self) -> ComposeResult:
        yield Static(id="machine-title", classes="screen-title")
        yield Static(id="machine-watch", classes="machine-info warning")
        yield Static(id="machine-info", classes="machine-info")
        yield KeyedTable(COLUMNS, id="machine-tasks")
        # ctrl+p is listed under ? with the other keys: the footer keeps its room at 80 columns
        yield KeyBar()

    def on_mount(self) -> None:
        self.watch_snapshot(self.snapshot)
        self.query_one(KeyedTable).focus()

    def watch_snapshot(self, snap: ClusterSnapshot | None) -> None:
        if snap is not None:
            with self.app.batch_update(), contextlib.suppress(NoMatches):
                self.show(snap)  # (NoMatches: bound before its widgets were composed)

    def watch_now(self) -> None:
        self.watch_snapshot(self.snapshot)

    def _since(self, snap: ClusterSnapshot) -> float:
        """Seconds from the snapshot to the clock's now (the times move by it)."""
        if self.now is None:
            return 0.0
        return max(0.0, (self.now - snap.taken_at).total_seconds())

    def show(self, snap: ClusterSnapshot) -> None:
        styles = styles_for(self.app)
        m = snap.machine(self.machine_id)
        title = self.query_one("#machine-title", Static)
        watch = self.query_one("#machine-watch", Static)
        if m is None:
            title.update(Text(f"machine {self.machine_id} is gone from the cluster", style="bold"))
            watch.display = False
            self.query_one(KeyedTable).sync({})
            return
        since = self._since(snap)
        head = Text()
        head.append(f"{m.label}", style="bold")
        head.append(f"  id {m.id}  {m.host_and_port}  ")
        head.append(m.state, style=state_style(styles, m.state))
        # This screen covers the status line: it says how old its figures are itself.
        head.append(f"  updated {duration(since)} ago", style="dim")
        title.update(head)
        self.query_one("#machine-info", Static).update(machine_info(m))
        running = snap.running_on(m.id)
        rows = {
            str(t.id): (
                ident(t.id),
                text(t.name, styles.bold),
                age(t.elapsed + since),
                left_cell(remaining_seconds(snap, t), since),
                num(t.attempt),
                text(t.posted_time.strftime("%H:%M:%S")),
            )
            for t in running
        }
        self.query_one(KeyedTable).sync(rows)
        self.query_one(KeyedTable).border_title = f"{len(running)} running"
        watch.display = self.watching
        if self.watching:
            watch.update(self._watch_text(snap, m, since))

    def _watch_text(self, snap: ClusterSnapshot, m: MachineSnap, since: float) -> Text:
        """After ``d`` on a Curio cluster: what is left of the cordoned machine's work."""
        out = Text()
        now = self.now or snap.taken_at
        plan = drain_plan(snap, m.id, now)
        if plan is None or not plan.running:
            out.append("Cordoned; no task runs there any more: ", style="bold")
            out.append("it can be stopped or restarted (R).")
            return out
        out.append(
            f"Cordoned (Curio has no drain): {len(plan.running)} task(s) still running, "
            f"{plan.expected_end(since)}.",
            style="bold",
        )
        for warning in plan.warnings:
            out.append(f"\n  PoSt: {warning}")
        return out

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "act":
            if self.read_only:
                return False
            snap = self.snapshot
            cluster = snap.cluster if snap is not None else "harmony"
            machine = snap.machine(self.machine_id) if snap is not None else None
            return offer(cluster, str(parameters[0]), machine, busy=self.busy)
        return True

    def action_act(self, kind: MachineAction) -> None:
        self.post_message(MachinesPane.ActionRequested(kind, self.machine_id))


def left_cell(remaining: float | None, since: float) -> Text:
    """The expected time left of a running task, moved on by ``since``; its type's history
    gives no estimate: say so."""
    if remaining is None:
        return text("no history", "dim", right=True)
    return age(max(remaining - since, 0.0), "dim")


def machine_info(m: MachineSnap) -> Text:
    """Capacity and use, contact, start and version, and what it runs: its task types, and
    (Curio's details) its config layers and the miners it serves, with its operator state."""
    info = Text()
    if m.reports_load:
        load = f"{(m.cpu_load or 0) * 100:.0f}%" if m.cpu_load is not None else "?"
        info.append(f"CPU {m.cpu} cores, {load} busy   ")
        used = size_str(m.ram_used) if m.ram_used is not None else "?"
        info.append(f"RAM {used} of {size_str(m.ram)}   ")
        info.append(f"GPU {m.gpu:g}" + (f", {m.gpu_used * 100:.0f}% busy" if m.gpu_used else ""))
    else:
        info.append(f"CPU {m.cpu} cores   RAM {size_str(m.ram)}   GPU {m.gpu:g}   ")
        info.append("(load not reported by Curio)", style="dim")
    info.append("\n")
    # contact and version, then the start on a line of its own: in one line they wrapped at
    # 80 columns between "version" and its number
    contact = f"{duration(m.contact_age)} ago" + (" (stale)" if m.stale else "")
    info.append(f"last contact {contact}   version {m.version or '?'}\n")
    if m.startup_time is not None:
        info.append(
            f"started {m.startup_time:%Y-%m-%d %H:%M:%S} UTC, up {duration(m.uptime or 0)}\n"
        )
    if m.state == MachineState.RESTARTING:
        info.append(
            "restart requested: it exits once it owns no task (the node clears the request "
            "and the cordon)\n",
            style="bold",
        )
    elif m.state == MachineState.CORDONED:
        info.append("cordoned: it takes no new tasks; running ones go on\n", style="bold")
    if m.layers:
        info.append(f"layers: {', '.join(m.layers)}   ")
    if m.miners:
        info.append(f"miners: {', '.join(m.miners)}")
    if m.layers or m.miners:
        info.append("\n")
    info.append(f"task types: {', '.join(m.tasks) or '-'}", style="dim")
    return info
