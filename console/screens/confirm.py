"""The confirmation of a machine action: Cancel first and focused, the tasks still running on
the machine, and the PoSt maintenance warning. What each action does is said in the cluster's
own terms (a Curio cluster: Curio's cordon and restart, and no drain).

Live: the app binds its snapshot and clock into the dialog, so the running tasks and the
deadline warning are those of the latest refresh while the operator decides.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.reactive import var
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from engine.snapshot import ClusterSnapshot, DrainPlan, drain_plan, duration

__all__ = ["ConfirmDialog", "MachineActionScreen"]

WHAT = {
    "cordon": "No new tasks start on it; running tasks continue.",
    "uncordon": "It schedules again (a drain or restart request is cancelled).",
    "drain": "No new tasks start on it; it reports 'drained' once the running ones end.",
}
#: a Curio cluster's (cmd/curio/rpc/rpc.go, web/api/webrpc/cluster.go,
#: harmony/harmonytask/harmonytask.go restartIfNoTasksPending)
CURIO_WHAT = {
    "cordon": "Curio stops giving it new tasks (unschedulable); running tasks continue.",
    "uncordon": "It takes tasks again; only the cordon is cleared (a restart request stays).",
    "drain": "Curio has no drain: this cordons it, then shows its running tasks until they end.",
    "request_restart": "Its Curio node exits (status 100) once it owns no task, clearing the "
    "request and the cordon; its supervisor starts it again.",
    "abort_restart": "The restart request is withdrawn; it stays cordoned.",
}
#: the actions that take capacity away: they carry the PoSt warning
WARNS = frozenset({"cordon", "drain", "request_restart"})
#: what the confirm button says (on a Curio cluster ``d`` cordons: it says so)
LABEL = {"request_restart": "Restart", "abort_restart": "Abort restart"}
CURIO_LABEL = {**LABEL, "drain": "Cordon"}


class ConfirmDialog(ModalScreen[bool]):
    """What every action dialog of the console shares: Cancel has the focus when it opens,
    escape cancels, left/right move between the buttons, and it dismisses with True only for the
    button whose id is ``confirm``."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="console.dialog.cancel"),
        Binding("left,h", "app.focus_previous", show=False),
        Binding("right,l", "app.focus_next", show=False),
    ]

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")

    def action_cancel(self) -> None:
        self.dismiss(False)


class MachineActionScreen(ConfirmDialog):
    """Confirm an action on one machine. Dismisses with True to go ahead."""

    #: the cluster as last read (bound to the app's)
    snapshot: var[ClusterSnapshot | None] = var(None, init=False)
    #: the clock's time (bound to the app's)
    now: var[datetime | None] = var(None, init=False)

    def __init__(self, kind: str, plan: DrainPlan, *, cluster: str = "harmony") -> None:
        super().__init__()
        self.kind = kind
        self.plan = plan
        self.cluster = cluster
        #: the confirm button's word
        self.label = (CURIO_LABEL if cluster == "curio" else LABEL).get(kind, kind.capitalize())

    def compose(self) -> ComposeResult:
        m = self.plan.machine
        what = (CURIO_WHAT if self.cluster == "curio" else WHAT)[self.kind]
        with Vertical(id="dialog", classes="dialog"):
            yield Static(Text(f"{self.label} {m.label}?", style="bold"), classes="dialog-title")
            yield Static(Text(f"{m.host_and_port} (id {m.id}), now {m.state}. {what}"))
            with VerticalScroll(classes="dialog-body"):
                yield Static(self.running_text(), id="dialog-running")
                warnings = self.plan.warnings if self.kind in WARNS else []
                if warnings:
                    yield Static(
                        self._warning_text(warnings), id="dialog-warning", classes="warning"
                    )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", variant="default")
                yield Button(
                    self.label,
                    id="confirm",
                    variant="warning" if self.kind in WARNS else "primary",
                )

    def watch_snapshot(self) -> None:
        self._replan()

    def watch_now(self) -> None:
        self._replan()

    def _replan(self) -> None:
        """The plan from the latest snapshot; the last one stays if the machine is gone."""
        if self.snapshot is None or self.now is None:
            return
        plan = drain_plan(self.snapshot, self.plan.machine.id, self.now)
        if plan is None or plan == self.plan:
            return
        self.plan = plan
        try:
            self.query_one("#dialog-running", Static).update(self.running_text())
        except NoMatches:
            return  # bound before its widgets were composed: compose used the plan
        warnings = self.plan.warnings if self.kind in WARNS else []
        shown = self.query("#dialog-warning")
        if warnings and shown:
            shown.first(Static).update(self._warning_text(warnings))
        elif warnings:
            self.query_one(".dialog-body").mount(
                Static(self._warning_text(warnings), id="dialog-warning", classes="warning")
            )
        else:
            shown.remove()

    def running_text(self) -> Text:
        running = self.plan.running
        if not running:
            return Text("No tasks running there.", style="dim")
        out = Text()
        out.append(f"{len(running)} task(s) still running there", style="bold")
        if self.kind in ("drain", "request_restart"):
            out.append(f" ({self.plan.expected_end()})")
        out.append(":\n")
        for t in running[:8]:
            out.append(f"  {t.id:>8}  {t.name:<16} running {duration(t.elapsed)}")
            typical = self.plan.typical_of(t.name)
            if typical is not None:
                out.append(f", typically {duration(typical)}", style="dim")
            out.append("\n")
        if len(running) > 8:
            out.append(f"  ... and {len(running) - 8} more\n", style="dim")
        return out

    def _warning_text(self, warnings: list[str]) -> Text:
        out = Text()
        out.append("WARNING: PoSt deadlines (maintenance rule)\n", style="bold")
        for w in warnings:
            out.append(f"  - {w}\n")
        return out
