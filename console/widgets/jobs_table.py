"""The jobs table: every running task, its target, its machine, how long it has run.

A reusable widget: the jobs pane shows it alone, a wide layout may show it beside the machines
table. Feed it with :meth:`JobsTable.show` (each snapshot, and each tick of the clock: elapsed
times move on between refreshes); it never queries and never calls the app. Rows are keyed by
task id, so the cursor, the scroll and the sort order survive every refresh.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from rich.text import Text

from engine.snapshot import duration

from .cells import Styles, ident, styles_for, text
from .keyed_table import Column, KeyedTable
from .row_cache import RowCache

if TYPE_CHECKING:
    from engine.snapshot import ClusterSnapshot
    from engine.snapshot.jobs import Job

__all__ = ["JOB_COLUMNS", "JobsTable", "job_cells", "job_signature"]

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


#: the one column that moves while a job runs (between refreshes too)
ELAPSED = next(i for i, c in enumerate(JOB_COLUMNS) if c.key == "elapsed")


def elapsed_cell(shown: str) -> Text:
    return Text(shown, justify="right", no_wrap=True)


def job_signature(job: Job, prefix: str) -> Hashable:
    """Everything :func:`job_cells` draws a job's row from but its elapsed time: while this is
    the same, so is the row."""
    machine = job.machine
    return (
        job.task.id,
        job.task.name,
        job.task.owner_id,
        job.task.attempt,
        job.target,
        prefix,
        job.state,
        None if machine is None else (machine.label, machine.host_and_port),
    )


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
        elapsed_cell(duration(job.elapsed(snap, now))),
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
        #: the rows as last built, and their elapsed cells as last drawn (the tick redraws
        #: only those): 2,000 running jobs are not built again at each refresh
        self._rows: RowCache[tuple[Text, ...]] = RowCache()
        self._elapsed: RowCache[Text] = RowCache()

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
        elapsed = self._elapsed_cells(snap, now)
        rows = {}
        with self._rows.building(styles) as row:
            for job in jobs:
                key = str(job.id)
                build = partial(job_cells, job, snap, now, styles, prefix)
                built = row(key, job_signature(job, prefix), build)
                cells = (*built[:ELAPSED], elapsed[key], *built[ELAPSED + 1 :])
                if keep is None or keep(cells):
                    rows[key] = cells
        self.sync(rows)
        return len(rows), len(jobs)

    def tick(self, snap: ClusterSnapshot, now: datetime) -> None:
        """Move the elapsed times on to ``now`` (once a second, between snapshots): only that
        column's cells, and only those whose text changed."""
        self.set_cells("elapsed", self._elapsed_cells(snap, now))

    def _elapsed_cells(self, snap: ClusterSnapshot, now: datetime | None) -> dict[str, Text]:
        """Every job's elapsed cell at ``now``: the one already drawn while its text is the
        same."""
        cells = {}
        with self._elapsed.building() as cell:
            for job in self.jobs:
                key = str(job.id)
                shown = duration(job.elapsed(snap, now))
                cells[key] = cell(key, shown, partial(elapsed_cell, shown))
        return cells

    def selected_job(self) -> Job | None:
        """The job under the cursor, as last shown."""
        key = self.selected_key
        return next((j for j in self.jobs if str(j.id) == key), None)
