"""Pane 2: task queues per type, failed tasks (restart with ``r``), history with a filter, and
a chart of completions and failures per minute."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import var
from textual.widgets import ContentSwitcher, DataTable, Static

from engine.snapshot import ClusterSnapshot
from engine.snapshot.format import took

from ..offers import offer
from ..widgets.cells import age, ident, num, text
from ..widgets.chart import ThroughputChart
from ..widgets.clauses import join_clauses
from ..widgets.keyed_table import Column, KeyedTable
from .base import Pane, PaneHeader

__all__ = ["TasksPane"]

TYPE_COLUMNS = (
    Column("Task", "name", 14),
    Column("Pending", "pending", 7, right=True),
    Column("Run", "running", 5, right=True),
    Column("Failed", "failed", 6, right=True),
    Column("Oldest", "oldest", 7, right=True),
    Column("Done 24h", "done", 8, right=True),
    Column("Fail 24h", "failed24", 8, right=True),
    Column("Mean", "mean", 6, right=True),
)

FAILED_COLUMNS = (
    Column("Task ID", "id", 8, right=True),
    Column("Type", "name", 13),
    Column("Failed", "age", 7, right=True),
    Column("Tries", "retries", 5, right=True),
    Column("Last error", "error", fill=True),
)

HISTORY_COLUMNS = (
    Column("Ended", "end", 8),
    Column("Type", "name", 13),
    Column("Task ID", "task", 8, right=True),
    Column("Outcome", "outcome", 9),
    Column("Took", "took", 6, right=True),
    Column("Machine", "host", 14),
    Column("Error", "err", fill=True),
)

VIEWS = {"types": "queues", "failed": "failed tasks", "history": "history"}


class TasksPane(Pane):
    """Queues per task type (with a chart), the failed tasks, and recent attempts."""

    SECTION = "tasks"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "view('types')", "Queues", id="console.tasks.types"),
        Binding("f", "view('failed')", "Failed", id="console.tasks.failed"),
        Binding("h", "view('history')", "History", id="console.tasks.history"),
        Binding("r", "restart", "Restart", id="console.restart"),
    ]

    #: which list the pane shows: one of VIEWS
    view: var[str] = var("types", init=False, bindings=True)
    #: the key of the highlighted row (whether ``r`` applies depends on it)
    highlighted: var[str | None] = var(None, bindings=True)

    class RestartRequested(Message):
        """Restart a failed task (``r``)."""

        def __init__(self, task_id: int) -> None:
            super().__init__()
            self.task_id = task_id

    def compose(self) -> ComposeResult:
        yield PaneHeader(self.WAITING, id="tasks-header")
        yield Static(id="tasks-views", classes="view-tabs")
        with ContentSwitcher(initial="types", id="tasks-switcher"):
            with Vertical(id="types"):
                yield KeyedTable(TYPE_COLUMNS, id="types-table")
                yield ThroughputChart(id="tasks-chart")
            yield KeyedTable(FAILED_COLUMNS, id="failed")
            yield KeyedTable(HISTORY_COLUMNS, id="history")

    def on_mount(self) -> None:
        self._render_views()

    def table(self, view: str | None = None) -> KeyedTable:
        view = view or self.view
        return self.query_one("#types-table" if view == "types" else f"#{view}", KeyedTable)

    @property
    def filter_table(self) -> KeyedTable:
        return self.table()

    def needs(self) -> Pane.Needs:
        # History is filtered in SQL (over the newest attempts), not just on screen, and its
        # list is only re-read while it is shown.
        if self.view == "history":
            return Pane.Needs(self, {"history"}, self.filter_text or None)
        return Pane.Needs(self, ())

    # ------------------------------------------------------------------ views

    def action_view(self, view: str) -> None:
        self.show_view(view)

    def show_view(self, view: str) -> None:
        if view in VIEWS:
            self.view = view

    def watch_view(self, view: str) -> None:
        self.query_one("#tasks-switcher", ContentSwitcher).current = view
        self._render_views()
        self.rerender()
        self.table().focus()
        self.post_needs()

    def select(self, key: str, view: str | None = None) -> None:
        if view is not None:
            self.show_view(view)
        super().select(key)

    def _render_views(self) -> None:
        line = Text()
        for key, label in VIEWS.items():
            shortcut = {"types": "t", "failed": "f", "history": "h"}[key]
            style = "reverse bold" if key == self.view else "dim"
            line.append(f" {shortcut} {label} ", style=style)
            line.append(" ")
        self.query_one("#tasks-views", Static).update(line)

    def watch_filter_text(self) -> None:
        if self.view == "history":
            self.post_needs()
        self.rerender()

    # ------------------------------------------------------------------ rendering

    def render_snapshot(self, snap: ClusterSnapshot) -> None:
        styles = self.palette
        q = snap.queues
        line = Text()
        if not q.types:
            line.append(
                "no tasks queued and none finished in the last 24 h: add some with "
                "`harmony task add noop --count 10`"
            )
            self.query_one("#tasks-header", PaneHeader).update(line)
            for view in VIEWS:
                self.table(view).sync({})
            self.query_one("#tasks-chart", ThroughputChart).show(q.chart)
            return
        waiting = sum(t.waiting for t in q.types)
        queue = Text()
        queue.append("queue: ", style=styles.bold)
        queue.append(f"{q.pending:,} pending")
        if waiting:
            queue.append(f" ({waiting} in retry back-off)", style="dim")
        queue.append(f", {q.running:,} running, ")
        queue.append(f"{q.failed_total:,} failed", style=styles.crit if q.failed_total else "")
        day = Text()
        day.append("24h: ", style=styles.bold)
        day.append(f"{q.done_24h:,} done, ")
        day.append(f"{q.failed_24h:,} failed", style=styles.warn if q.failed_24h else "")
        segments = [queue, day]
        if not q.window_complete:
            segments.append(
                Text(f"(history loading: {q.window_hours:.1f}h so far)", style=styles.warn)
            )
        if self.view == "types":
            shown = self._render_types(snap)
            total = len(q.types)
        elif self.view == "failed":
            shown = self._render_failed(snap)
            total = len(q.failed_tasks)
        else:
            shown = self._render_history(snap)
            total = len(q.history)
        if self.view != "history":
            note = self.filter_note(shown, total).strip()
        elif q.history_filter:
            note = f"filter '{q.history_filter}': {shown} matching attempts"
        else:
            note = ""
        if note:
            segments.append(Text(note))
        header = self.query_one("#tasks-header", PaneHeader)
        # whole segments, a new line before one that does not fit: at 80 columns the header
        # broke as "24h: 864 done, 97" over "failed", and "filter '313':" over "0 matching"
        header.update(join_clauses(segments, header.line_width, sep="  "))

    def render_error(self, snap: ClusterSnapshot, message: str) -> None:
        super().render_error(snap, message)
        self.query_one("#tasks-chart", ThroughputChart).show(snap.queues.chart)

    def _render_types(self, snap: ClusterSnapshot) -> int:
        styles = self.palette
        rows = {}
        for t in snap.queues.types:
            cells = (
                text(t.name, styles.bold),
                num(t.pending),
                num(t.running, styles.info if t.running else ""),
                num(t.failed, styles.crit if t.failed else ""),
                age(t.oldest_age, styles.warn if (t.oldest_age or 0) > 3600 else ""),
                num(t.done_24h),
                num(t.failed_24h, styles.warn if t.failed_24h else ""),
                Text(
                    took(t.mean_seconds) if t.mean_seconds is not None else "-",
                    justify="right",
                    style="" if t.mean_seconds is not None else "dim",
                ),
            )
            if self.matches(*cells):
                rows[t.name] = cells
        self.table("types").sync(rows)
        self.query_one("#tasks-chart", ThroughputChart).show(snap.queues.chart)
        return len(rows)

    def _render_failed(self, snap: ClusterSnapshot) -> int:
        styles = self.palette
        rows = {}
        for t in snap.queues.failed_tasks:
            cells = (
                ident(t.id),
                text(t.name, styles.bold),
                age(t.age, styles.crit),
                num(t.retries),
                text(t.last_error or "", "dim"),
            )
            if self.matches(*cells):
                rows[str(t.id)] = cells
        self.table("failed").sync(rows)
        return len(rows)

    def _render_history(self, snap: ClusterSnapshot) -> int:
        styles = self.palette
        rows = {}
        for h in snap.queues.history:
            outcome = h.outcome or ("done" if h.result else "failed")
            style = (
                styles.ok
                if h.result
                else (styles.crit if outcome in ("failed", "retry") else styles.warn)
            )
            rows[str(h.id)] = (
                text(h.work_end.strftime("%H:%M:%S")),
                text(h.name, styles.bold),
                ident(h.task_id),
                text(outcome, style),
                Text(took(h.duration), justify="right", no_wrap=True),
                text(h.host, "dim"),
                text(h.err or "", "dim"),
            )
        self.table("history").sync(rows)
        return len(rows)

    # ------------------------------------------------------------------ restart

    def selected_failed_task(self) -> int | None:
        snap = self.snapshot
        if snap is None:
            return None
        if self.view == "failed":
            key = self.table("failed").selected_key
            return int(key) if key is not None else None
        if self.view == "history":
            key = self.table("history").selected_key
            row = next((h for h in snap.queues.history if str(h.id) == key), None)
            if row is not None and any(f.id == row.task_id for f in snap.queues.failed_tasks):
                return row.task_id
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "restart":
            if self.read_only:
                return False
            cluster = self.snapshot.cluster if self.snapshot is not None else "harmony"
            if not offer(cluster, "restart"):
                return False  # a Curio cluster: nothing to restart (Curio deletes the task)
            if self.view == "types":
                return False
            if self.selected_failed_task() is None or self.busy:
                return None
        return True

    def action_restart(self) -> None:
        task_id = self.selected_failed_task()
        if task_id is not None:
            self.post_message(self.RestartRequested(task_id))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.highlighted = event.row_key.value
