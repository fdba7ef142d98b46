"""One machine in detail: capacity, use, state, and its running tasks with elapsed time.

Live: the app binds its snapshot into the screen, so every refresh redraws it. ``c``/``u``/``d``
ask for an action on it (the same request as the machines pane's), ``esc`` goes back.
"""

from __future__ import annotations

import contextlib
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import Footer, Static

from engine.snapshot import ClusterSnapshot, duration, remaining_seconds
from engine.storage import size_str

from ..actions import MachineAction
from ..panes.machines import MachinesPane, state_style
from ..widgets.cells import age, ident, num, styles_for, text
from ..widgets.keyed_table import Column, KeyedTable

__all__ = ["MachineScreen"]

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
    ]

    #: the cluster as last read (bound to the app's)
    snapshot: var[ClusterSnapshot | None] = var(None, init=False)
    #: an operator action is under way (bound to the app's)
    busy: var[bool] = var(False, bindings=True)

    def __init__(self, machine_id: int, *, read_only: bool = False) -> None:
        super().__init__()
        self.machine_id = machine_id
        self.read_only = read_only

    def compose(self) -> ComposeResult:
        yield Static(id="machine-title", classes="screen-title")
        yield Static(id="machine-info", classes="machine-info")
        yield KeyedTable(COLUMNS, id="machine-tasks")
        yield Footer()

    def on_mount(self) -> None:
        self.watch_snapshot(self.snapshot)
        self.query_one(KeyedTable).focus()

    def watch_snapshot(self, snap: ClusterSnapshot | None) -> None:
        if snap is not None:
            with self.app.batch_update(), contextlib.suppress(NoMatches):
                self.show(snap)  # (NoMatches: bound before its widgets were composed)

    def show(self, snap: ClusterSnapshot) -> None:
        styles = styles_for(self.app)
        m = snap.machine(self.machine_id)
        title = self.query_one("#machine-title", Static)
        if m is None:
            title.update(Text(f"machine {self.machine_id} is gone from the cluster", style="bold"))
            self.query_one(KeyedTable).sync({})
            return
        head = Text()
        head.append(f"{m.label}", style="bold")
        head.append(f"  id {m.id}  {m.host_and_port}  ")
        head.append(m.state, style=state_style(styles, m.state))
        title.update(head)
        info = Text()
        load = f"{(m.cpu_load or 0) * 100:.0f}%" if m.cpu_load is not None else "?"
        info.append(f"CPU {m.cpu} cores, {load} busy   ")
        used = size_str(m.ram_used) if m.ram_used is not None else "?"
        info.append(f"RAM {used} of {size_str(m.ram)}   ")
        info.append(f"GPU {m.gpu:g}" + (f", {m.gpu_used * 100:.0f}% busy" if m.gpu_used else ""))
        info.append("\n")
        contact = f"{duration(m.contact_age)} ago" + (" (stale)" if m.stale else "")
        info.append(f"last contact {contact}   ")
        if m.startup_time is not None:
            info.append(
                f"started {m.startup_time:%Y-%m-%d %H:%M:%S} UTC, up {duration(m.uptime or 0)}   "
            )
        info.append(f"version {m.version or '?'}\n")
        info.append(f"task types: {', '.join(m.tasks) or '-'}", style="dim")
        self.query_one("#machine-info", Static).update(info)
        running = snap.running_on(m.id)
        rows = {
            str(t.id): (
                ident(t.id),
                text(t.name, styles.bold),
                age(t.elapsed),
                age(remaining_seconds(snap, t), "dim"),
                num(t.attempt),
                text(t.posted_time.strftime("%H:%M:%S")),
            )
            for t in running
        }
        self.query_one(KeyedTable).sync(rows)
        self.query_one(KeyedTable).border_title = f"{len(running)} running"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "act":
            if self.read_only:
                return False
            if self.busy:
                return None
        return True

    def action_act(self, kind: MachineAction) -> None:
        self.post_message(MachinesPane.ActionRequested(kind, self.machine_id))
