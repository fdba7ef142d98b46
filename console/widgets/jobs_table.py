"""The jobs table: every running task, its target, its machine, how long it has run.

A reusable widget: the jobs pane shows it alone, a wide layout may show it beside the machines
table. Feed it with :meth:`JobsTable.show` (each snapshot, and each tick of the clock: elapsed
times move on between refreshes); it never queries and never calls the app. Rows are keyed by
task id, so the cursor, the scroll and the sort order survive every refresh.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from rich.text import Text

from engine.snapshot import duration

from .cells import Styles, ident, styles_for, text
from .keyed_table import Column, KeyedTable

if TYPE_CHECKING:
    from engine.snapshot import ClusterSnapshot
    from engine.snapshot.jobs import Job

__all__ = ["JOB_COLUMNS", "JobsTable", "job_cells"]

#: through State, the columns fit 80 columns; the host follows where there is room
JOB_COLUMNS = (
    Column("Task ID", "id", 7, right=True),
    Column("Type", "name", 12),
    Column("Target", "target", 15),
    Column("Machine", "machine", 12),
    Column("Elapsed", "elapsed", 7, right=True),
    Column("State", "state", 10),
    Column("Try", "attempt", 3, right=True),
    Column("Host", "host"),
)


def elapsed_cell(job: Job, snap: ClusterSnapshot, now: datetime | None) -> Text:
    return Text(duration(job.elapsed(snap, now)), justify="right", no_wrap=True)


def job_cells(
    job: Job, snap: ClusterSnapshot, now: datetime | None, styles: Styles, prefix: str = "t0"
) -> tuple[Text, ...]:
    """One job's row (``now`` moves the elapsed time on from the snapshot's)."""
    machine = job.machine
    if job.state == "owner lost":
        state_style = styles.crit
    elif job.state == "stopping":
        state_style = styles.warn
    else:
        state_style = styles.ok
    return (
        ident(job.id),
        text(job.task.name, styles.bold),
        text(job.target.label(prefix) if job.target is not None else "-"),
        text(machine.label if machine is not None else f"#{job.task.owner_id}"),
        elapsed_cell(job, snap, now),
        text(job.state, state_style),
        ident(job.task.attempt),
        text(machine.host_and_port if machine is not None else "", "dim"),
    )


class JobsTable(KeyedTable):
    """Running tasks as jobs (see the module docstring): ``JobsTable(id="jobs")``, then
    :meth:`show` with each snapshot and each tick. Sorting (``s``/``S``), the cursor and
    ``enter`` (a ``DataTable.RowSelected`` whose row key is the task id) are KeyedTable's.

    Args:
        styles: the semantic styles to draw with, asked for at each render; None: the app
            theme's (:func:`~console.widgets.cells.styles_for`).
        id: the widget's id.
    """

    def __init__(
        self, styles: Callable[[], Styles] | None = None, *, id: str | None = None
    ) -> None:
        super().__init__(JOB_COLUMNS, id=id)
        self._styles = styles
        #: every job of the last snapshot shown, filtered or not
        self.jobs: list[Job] = []

    def show(
        self,
        snap: ClusterSnapshot,
        now: datetime | None = None,
        *,
        keep: Callable[[tuple[Text, ...]], bool] | None = None,
    ) -> tuple[int, int]:
        """Show ``snap``'s jobs at ``now``, those whose cells ``keep`` accepts (all when None);
        returns (shown, total)."""
        # asked for at each render: the theme may change
        styles = self._styles() if self._styles is not None else styles_for(self.app)
        prefix = snap.post.miners[0].address_prefix if snap.post.miners else "t0"
        from engine.snapshot.jobs import build_jobs  # with the first snapshot, after the frame

        jobs = self.jobs = build_jobs(snap)
        rows = {}
        for job in jobs:
            cells = job_cells(job, snap, now, styles, prefix)
            if keep is None or keep(cells):
                rows[str(job.id)] = cells
        self.sync(rows)
        return len(rows), len(jobs)

    def tick(self, snap: ClusterSnapshot, now: datetime) -> None:
        """Move the elapsed times on to ``now`` (once a second, between snapshots): only that
        column's cells, and only those whose text changed."""
        self.set_cells("elapsed", {str(job.id): elapsed_cell(job, snap, now) for job in self.jobs})

    def selected_job(self) -> Job | None:
        """The job under the cursor, as last shown."""
        key = self.selected_key
        return next((j for j in self.jobs if str(j.id) == key), None)
