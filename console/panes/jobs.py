"""Pane 6: jobs, what runs where now (lotus-miner ``sealing jobs``).

Every claimed task with what it works on (a sector, a deadline's partition), its machine, how
long it has run (ticking), its attempt and its state: ``running``; ``stopping`` while its
machine drains; ``owner lost`` when its machine is stale or dead (the task is re-queued once the
machine is declared dead). A task waiting out a retry back-off is not a job: it runs nowhere.

The rows come from the snapshot's running list and machines, the same ones the machines pane
and the status line count, so the three agree in every frame. ``enter`` opens the task's
detail (:class:`~console.screens.task.TaskScreen`), whose ``h`` shows its attempts (the tasks
pane's history, searched for the task's id) and, for a sealing task, ``s`` its sector's
drill-down; ``s`` in the pane opens that drill-down at once.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from engine.snapshot import ClusterSnapshot

from ..widgets.clauses import join_clauses
from ..widgets.jobs_table import JobsTable
from .base import Pane, PaneHeader

__all__ = ["JobsPane"]

STATES = ("running", "stopping", "owner lost")


class JobsPane(Pane):
    """Running tasks: target, machine, elapsed, attempt, state."""

    SECTION = "machines"
    LISTS = frozenset({"jobs"})

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "sector", "Sector", show=False, id="console.jobs.sector"),
    ]

    def compose(self) -> ComposeResult:
        yield PaneHeader(self.WAITING, id="jobs-header")
        yield JobsTable(id="jobs-table")

    @property
    def table(self) -> JobsTable:
        return self.query_one("#jobs-table", JobsTable)

    @property
    def filter_table(self) -> JobsTable:
        return self.table

    def render_snapshot(self, snap: ClusterSnapshot) -> None:
        styles = self.palette
        header = self.query_one("#jobs-header", PaneHeader)
        shown, total = self.table.show(snap, self.now, keep=lambda cells: self.matches(*cells))
        if not total:
            header.update(Text("no task is running now (queued ones wait for a machine)"))
            return
        counts = Counter(job.state for job in self.table.jobs)
        summary = Text()
        summary.append(f"{total} job{'s' if total != 1 else ''}: ", style=styles.bold)
        summary.append(", ".join(f"{counts[s]} {s}" for s in STATES if counts[s]))
        machines = len({t.owner_id for t in snap.running})
        clauses = [summary, Text(f"on {machines} machine{'s' if machines != 1 else ''}")]
        problem = snap.error("jobs")
        if problem:
            clauses.append(Text(f"targets not read: {problem}", style=styles.warn))
        line = join_clauses(clauses, header.line_width)
        line.append(self.filter_note(shown, total))
        header.update(line)

    def tick(self, now: datetime) -> None:
        if self.snapshot is not None and self.snapshot.error(self.SECTION) is None:
            self.table.tick(self.snapshot, now)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.DetailRequested("job", str(event.row_key.value)))

    def action_sector(self) -> None:
        """``s``: the drill-down of the sector the selected job seals."""
        job = self.table.selected_job()
        key = job.target.sector_key if job is not None and job.target is not None else None
        if key is None:
            self.notify("the selected job works on no sector", timeout=3)
            return
        self.post_message(self.DetailRequested("sector", key))
