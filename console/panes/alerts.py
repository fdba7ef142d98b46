"""Pane 9: the alerts inbox: what could cost the miner power or rewards, most severe and oldest
first (``harmony alerts list`` lists the same, with the same statement).

Each open alert with its severity, its state (``new``, ``acked``, ``muted``), how long ago it
was first seen, its check and what it is about; the selected alert's whole message (it names
what to do) below the table. Keys: ``a`` acknowledges the selected alert, ``m`` mutes it for a
while (a dialog asks how long), ``enter`` opens what it is about (the sector, the storage path,
the machine, the task's attempts; a deadline is shown selected in the PoSt pane, a task type in
the queues, the store space in the Storage pane, the chain's head in the PoSt pane, a failed
check's own alerts here). The pane never writes: it asks the app
(:class:`AlertsPane.ChangeRequested`), which confirms, refuses under ``--read-only`` or on a
Curio cluster, and runs the engine's API off the event loop.

The list is read only while the pane is on screen (``LISTS``); the header's badge counts what
needs attention at every refresh (:mod:`engine.snapshot.alerts`).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from engine.alerts.evaluate import CHECK_ERRORS
from engine.alerts.model import Alert, Severity
from engine.snapshot import ClusterSnapshot, duration

from ..navigation import Goto
from ..widgets.cells import Styles, text
from ..widgets.clauses import join_clauses
from ..widgets.keyed_table import Column, KeyedTable
from .base import Pane, PaneHeader

__all__ = ["AlertsPane", "alert_target", "severity_style"]

COLUMNS = (
    Column("Sev", "severity", 4),
    Column("State", "state", 5),
    Column("Since", "since", 7, right=True),
    Column("Check", "check", 17),
    Column("About", "subject", 18),
    Column("Message", "message", fill=True),
)

#: severity -> its 4-cell label (the word is the meaning; colour only adds to it)
SEVERITY_LABEL = {Severity.CRITICAL: "CRIT", Severity.WARNING: "WARN", Severity.INFO: "info"}

#: what the Curio cluster's pane says (``harmony alerts list`` evaluates them live there too)
CURIO_NOTE = "Curio: checks evaluated live, nothing stored; ack/mute in Curio's web UI"

#: ``("detail", kind, key)``: a detail screen; ``("goto", pane, key)``: a pane, with the row
#: ``key`` selected (None: the pane as it is); ``("filter", "alerts", text)``: this inbox,
#: filtered
Target = tuple[Literal["detail", "goto", "filter"], str, str | None]

#: checks whose findings link to nothing by kind (Curio's message-stuck has no miner), and the
#: pane that shows what they are about: the store paths' room; the chain's head (the PoSt
#: pane's header, with why a Curio cluster's Lotus node could not be read), which a message
#: waits on
PANE_OF_CHECK = {
    "storage-space": "storage",
    "chain-stalled": "post",
    "lotus-behind": "post",
    "message-stuck": "post",
}


def alert_key(alert: Alert) -> str:
    """A row's key: the stored alert's id; a Curio cluster's live ones (id 0) by check and
    subject."""
    return str(alert.id) if alert.id else f"{alert.check}|{alert.subject}"


def severity_style(severity: Severity, styles: Styles) -> Style | str:
    return {Severity.CRITICAL: styles.crit, Severity.WARNING: styles.warn}.get(severity, "")


def alert_target(alert: Alert, snap: ClusterSnapshot | None) -> Target | None:
    """What ``enter`` opens for an alert, from its links (see :data:`Target`): a detail screen
    (sector, storage path, machine, a task's attempts) or a row of a pane (a deadline in the
    PoSt pane, a task type in the queues, a miner); by its check where it links to no thing
    (:data:`PANE_OF_CHECK`; a failed check: its own alerts, kept as they were, in this inbox);
    None when it links to nothing the console shows.

    A deadline wins over sectors: a partition's unreadable sectors are the deadline's problem,
    and the PoSt pane's ``enter`` checks them all (each bad one leads to its drill-down)."""
    links = alert.links
    if alert.check == CHECK_ERRORS and links.get("check"):
        return ("filter", "alerts", str(links["check"]))
    miner = links.get("miner")
    sectors = links.get("sectors") or ([links["sector"]] if "sector" in links else [])
    if miner is not None and links.get("deadline") is not None:
        return ("goto", "post", f"{int(miner)}:{int(links['deadline'])}")
    if miner is not None and sectors:
        return ("detail", "sector", f"{int(miner)}:{int(sectors[0])}")
    if links.get("path"):
        return ("detail", "storage", str(links["path"]))
    if links.get("machine") and snap is not None:
        machine = str(links["machine"])
        found = next(
            (m for m in snap.machines if machine in (m.host_and_port, m.name, str(m.id))), None
        )
        if found is not None:
            return ("detail", "machine", str(found.id))
    task_ids = links.get("task_ids") or ([links["task_id"]] if "task_id" in links else [])
    if task_ids:
        # its attempts: the task itself may be gone (Curio deletes a task that failed for good)
        return ("detail", "task", str(int(task_ids[0])))
    if links.get("task_type"):
        return ("goto", "tasks", str(links["task_type"]))
    if miner is not None:
        return ("goto", "miners", str(int(miner)))
    pane = PANE_OF_CHECK.get(alert.check)
    if pane is not None:
        return ("goto", pane, None)
    return None


def target_words(target: Target | None) -> str:
    if target is None:
        return "links to nothing the console shows"
    how, kind, key = target
    if how == "filter":
        return f"enter: the alerts of check {key} (kept as they were), here"
    if kind == "post":
        if key is None:
            return "enter: the chain's head in the PoSt pane"
        return f"enter: deadline {key.partition(':')[2]} in the PoSt pane"
    if kind == "tasks":
        return f"enter: {key} in the task queues"
    if kind == "task":
        return f"enter: task {key}'s attempts in the task history"
    if key is None:
        return f"enter: the {kind.capitalize()} pane"
    words = {"storage": "storage path", "miners": "miner"}.get(kind, kind)
    return f"enter: {words} {key}"


class AlertsPane(Pane):
    """Open alerts, with acknowledge, mute and a link to what each is about."""

    SECTION = ""
    LISTS = frozenset({"alerts"})

    DEFAULT_CSS = """
    #alerts-detail {
        height: auto;
        max-height: 6;
        padding: 0 1;
        background: $boost;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "change('ack')", "Acknowledge", id="console.alerts.ack"),
        Binding("m", "change('mute')", "Mute", id="console.alerts.mute"),
    ]

    class ChangeRequested(Message):
        """``a`` or ``m`` on an alert: the app confirms (or refuses) and does it."""

        def __init__(self, kind: Literal["ack", "mute"], alert: Alert) -> None:
            super().__init__()
            self.kind: Literal["ack", "mute"] = kind
            self.alert = alert

    def compose(self) -> ComposeResult:
        yield PaneHeader(self.WAITING, id="alerts-header")
        yield KeyedTable(COLUMNS, id="alerts-table")
        with VerticalScroll(id="alerts-detail"):
            yield Static(id="alerts-message")

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#alerts-table", KeyedTable)

    @property
    def filter_table(self) -> KeyedTable:
        return self.table

    def selected_alert(self) -> Alert | None:
        key = self.table.selected_key
        if key is None or self.snapshot is None:
            return None
        return next((a for a in self.snapshot.alerts.alerts if alert_key(a) == key), None)

    def render_snapshot(self, snap: ClusterSnapshot) -> None:
        self._draw(snap, self.now or snap.taken_at)

    def tick(self, now: datetime) -> None:
        if self.snapshot is not None:
            self._draw(self.snapshot, now)  # the ages, and a mute that ran out

    def _draw(self, snap: ClusterSnapshot, now: datetime) -> None:
        styles = self.palette
        header = self.query_one("#alerts-header", PaneHeader)
        alerts = snap.alerts
        curio = snap.cluster == "curio"
        if alerts.unavailable:
            header.update(Text(alerts.unavailable))
            self.table.sync({})
            self._show_message(now)
            return
        if not alerts.listed:
            header.update(Text("evaluating Curio's checks..." if curio else "reading alerts..."))
            return
        rows: dict[str, tuple[Text, ...]] = {}
        states = {"new": 0, "acked": 0, "muted": 0}
        for a in alerts.alerts:
            state = a.state(now)
            states[state] = states.get(state, 0) + 1
            cells = self._cells(a, state, now, styles)
            if self.matches(*cells):
                rows[alert_key(a)] = cells
        total = len(alerts.alerts)
        # a Curio cluster without its Lotus node: the checks that need the chain were not run,
        # and "nothing found" must not read as "all is well" for them
        skipped = Text(alerts.not_evaluated, styles.warn) if alerts.not_evaluated else None
        if not total:
            quiet = Text("no open alerts: nothing found that could cost power or rewards", "dim")
            header.update(join_clauses([quiet, skipped], header.line_width) if skipped else quiet)
        else:
            clauses = [Text(f"{total} open alert{'s' if total != 1 else ''}", style=styles.bold)]
            need = Text()
            if alerts.attention:
                worst = alerts.worst
                parts = ", ".join(
                    f"{alerts.counts[s]} {s}" for s in Severity if alerts.counts.get(s)
                )
                style = severity_style(worst, styles) if worst else ""
                need.append(f"new: {parts}", style=style)
            else:
                need.append("none new", style=styles.ok)
            clauses.append(need)
            if curio:
                clauses.append(Text(CURIO_NOTE, "dim"))
            else:
                clauses.append(Text(f"{states['acked']} acked, {states['muted']} muted", "dim"))
            problem = snap.error("alerts")
            if problem:
                clauses.append(Text(f"not evaluated now: {problem}", styles.warn))
            if skipped:
                clauses.append(skipped)
            line = join_clauses(clauses, header.line_width)
            line.append(self.filter_note(len(rows), total))
            header.update(line)
        self.table.sync(rows)
        self._show_message(now)

    def _cells(self, a: Alert, state: str, now: datetime, styles: Styles) -> tuple[Text, ...]:
        quiet = state != "new"
        sev = severity_style(a.severity, styles)
        # a Curio cluster's live alert has no first-seen time of its own (nothing is stored)
        since = "live" if not a.id else duration(max(0.0, (now - a.first_seen).total_seconds()))
        return (
            text(SEVERITY_LABEL[a.severity], "dim" if quiet else sev),
            text(state, styles.bold if state == "new" else "dim"),
            text(since, right=True),
            text(a.check),
            text(a.subject),
            text(a.message.splitlines()[0] if a.message else "", "dim" if quiet else ""),
        )

    def _show_message(self, now: datetime) -> None:
        alert = self.selected_alert()
        out = Text()
        if alert is not None:
            out.append(f"{alert.check} / {alert.subject}: ", style="bold")
            out.append(alert.message)
            state = alert.state(now)
            if state == "acked":
                out.append(f"\nacknowledged by {alert.acked_by}", style="dim")
            elif state == "muted" and alert.muted_until is not None:
                left = duration(max(0.0, (alert.muted_until - now).total_seconds()))
                out.append(f"\nmuted by {alert.muted_by} for {left} more", style="dim")
            out.append(f"\n{target_words(alert_target(alert, self.snapshot))}", style="dim")
        self.query_one("#alerts-message", Static).update(out)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.snapshot is not None:
            self._show_message(self.now or self.snapshot.taken_at)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        alert = self.selected_alert()
        if alert is None:
            return
        target = alert_target(alert, self.snapshot)
        if target is None:
            self.notify(f"alert {alert.id} links to nothing the console shows", timeout=4)
            return
        how, kind, key = target
        if how == "detail" and key is not None:
            self.post_message(self.DetailRequested(kind, key))  # type: ignore[arg-type]
        elif how == "filter" and key is not None:
            self.show_check(key)
        else:
            self.post_message(Goto(kind, key))

    def show_check(self, check: str) -> None:
        """The inbox filtered to one check's name, its first alert of that check selected
        (an ``alert-check`` alert's link: the alerts that check left as they were)."""
        self.filter_text = check
        self.rerender()
        if self.snapshot is not None:
            first = next((a for a in self.snapshot.alerts.alerts if a.check == check), None)
            if first is not None:
                self.table.select_key(alert_key(first))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "change" and self.busy:
            return None  # greyed while another change is under way
        return True

    def action_change(self, kind: Literal["ack", "mute"]) -> None:
        alert = self.selected_alert()
        if alert is None:
            self.notify("no alert selected", severity="warning", timeout=3)
            return
        self.post_message(self.ChangeRequested(kind, alert))
