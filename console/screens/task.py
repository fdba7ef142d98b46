"""One running task (a job) in detail: its type, target, machine and host, state, when it was
posted and claimed, how long it has run against its type's typical time, its attempt; ``h``
shows its attempts (the tasks pane's history, searched for its id).

Live like every view: rebuilt from each snapshot and each tick while open; a task that ended
(or went back to the queue) while it was open says so. A task that is not running says why it
waits (:mod:`engine.snapshot.waits`, read for this one task at each refresh while open, off the
event loop: the text ``harmony task list --why`` prints).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.reactive import var
from textual.widgets import Static

from engine.snapshot import ClusterSnapshot, duration
from engine.snapshot.format import took
from engine.snapshot.jobs import Job, build_jobs
from engine.snapshot.waits import Wait
from engine.snapshot.why import why_waiting

from ..feed import one_line
from ..panes.base import Pane
from .detail import DetailScreen

if TYPE_CHECKING:
    from engine.harmonydb import DB

__all__ = ["TaskScreen", "job_text", "wait_text"]

log = logging.getLogger("harmony.console")


def _when(ts: datetime | None) -> str:
    return f"{ts:%Y-%m-%d %H:%M:%S} UTC" if ts is not None else "-"


def job_text(job: Job, snap: ClusterSnapshot, now: datetime | None) -> Text:
    """What the snapshot knows of a running task, its elapsed time moved on to ``now``."""
    t = job.task
    prefix = snap.post.miners[0].address_prefix if snap.post.miners else "t0"
    body = Text()
    rows: list[tuple[str, str]] = [
        ("type", t.name),
        ("target", job.target.label(prefix) if job.target is not None else "-"),
        ("state", job.state),
        (
            "machine",
            f"{job.machine.label} ({job.machine.host_and_port}, {job.machine.state})"
            if job.machine is not None
            else f"#{t.owner_id} (not in the cluster)",
        ),
        ("posted", _when(t.posted_time)),
        ("claimed", _when(t.claimed_at)),
        ("running", duration(job.elapsed(snap, now))),
        ("attempt", f"{t.attempt} ({t.retries} failed before)"),
    ]
    kind = snap.task_type(t.name)
    if kind is not None and kind.mean_seconds is not None:
        rows.append(("typical", f"{took(kind.mean_seconds)} (mean of the last 24 h)"))
    for key, value in rows:
        body.append(f"{key:<9}", style="bold")
        body.append(f"{value}\n")
    body.append("\nh: its attempts (task history)", style="dim")
    if job.target is not None and job.target.sector_key is not None:
        body.append("  s: its sector", style="dim")
    return body


def wait_text(wait: Wait) -> Text:
    """A task that is not running: where it is, and why (the one definition's line)."""
    body = Text()
    if wait.name:
        body.append(f"{'type':<9}", style="bold")
        body.append(f"{wait.name}\n")
    label = {"running": "state", "failed": "state", "gone": "state"}.get(wait.kind, "waits")
    body.append(f"{label:<9}", style="bold")
    body.append(f"{wait.text}\n", style="yellow" if wait.kind not in ("next", "queued") else "")
    body.append("\nh: its attempts (task history)", style="dim")
    return body


class TaskScreen(DetailScreen):
    """A running task's detail (``enter`` on a job)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("h", "history", "Attempts", id="console.task.history"),
        Binding("s", "sector", "Sector", id="console.task.sector"),
    ]
    #: the targets, and the task types (its type's typical time)
    LISTS = frozenset({"jobs", "tasks"})

    #: the clock's time, once a second (bound to the app's)
    now: var[datetime | None] = var(None, init=False)

    def __init__(self, task_id: int, *, source: Callable[[], DB | None] | None = None) -> None:
        super().__init__(f"Task {task_id}")
        self.task_id = task_id
        #: the console's read pool (None: the why is not read)
        self.source = source
        self.wait: Wait | None = None
        self._reading = False

    def body(self, snap: ClusterSnapshot) -> Text:
        job = next((j for j in build_jobs(snap) if j.id == self.task_id), None)
        if job is None:
            if self.wait is not None and self.wait.kind != "running":
                return wait_text(self.wait)
            return Text(
                "not running any more: it finished, failed or went back to the queue "
                "(h: its attempts)"
            )
        return job_text(job, snap, self.now)

    def watch_snapshot(self, snap: ClusterSnapshot | None) -> None:
        super().watch_snapshot(snap)
        if snap is None or self._reading or self.source is None:
            return
        if any(j.id == self.task_id for j in build_jobs(snap)):
            return  # running: the snapshot says it all
        db = self.source()
        if db is None:
            return
        self._reading = True
        self.run_worker(self._read(db), group="task-why", exit_on_error=False)

    async def _read(self, db: DB) -> None:
        try:
            self.wait = (await why_waiting(db, [self.task_id]))[self.task_id]
        except Exception as exc:  # shown in the view: the operator sees what failed
            log.warning("task %d why: %s", self.task_id, exc)
            self.wait = Wait(self.task_id, "", "gone", f"why not read: {one_line(exc)}")
        finally:
            self._reading = False
        self.watch_now()

    def watch_now(self) -> None:
        if self.snapshot is not None:
            try:
                self.query_one("#detail-body", Static).update(self.body(self.snapshot))
            except NoMatches:
                return

    def action_history(self) -> None:
        self.dismiss(None)
        self.app.post_message(Pane.DetailRequested("task", str(self.task_id)))

    def _sector_key(self) -> str | None:
        """The sector a running sealing task works on ("sp_id:number"), if it is one."""
        if self.snapshot is None:
            return None
        job = next((j for j in build_jobs(self.snapshot) if j.id == self.task_id), None)
        return job.target.sector_key if job is not None and job.target is not None else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "sector":
            return self._sector_key() is not None
        return True

    def action_sector(self) -> None:
        """The drill-down of the sector this task seals."""
        key = self._sector_key()
        if key is None:
            return
        self.dismiss(None)
        self.app.post_message(Pane.DetailRequested("sector", key))
