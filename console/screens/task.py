"""One running task (a job) in detail: its type, target, machine and host, state, when it was
posted and claimed, how long it has run against its type's typical time, its attempt; ``h``
shows its attempts (the tasks pane's history, searched for its id).

Live like every view: rebuilt from each snapshot and each tick while open; a task that ended
(or went back to the queue) while it was open says so.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.reactive import var
from textual.widgets import Static

from engine.snapshot import ClusterSnapshot, duration
from engine.snapshot.format import took
from engine.snapshot.jobs import Job, build_jobs

from ..panes.base import Pane
from .detail import DetailScreen

__all__ = ["TaskScreen", "job_text"]


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
    return body


class TaskScreen(DetailScreen):
    """A running task's detail (``enter`` on a job)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("h", "history", "Attempts", id="console.task.history"),
    ]
    #: the targets, and the task types (its type's typical time)
    LISTS = frozenset({"jobs", "tasks"})

    #: the clock's time, once a second (bound to the app's)
    now: var[datetime | None] = var(None, init=False)

    def __init__(self, task_id: int) -> None:
        super().__init__(f"Task {task_id}")
        self.task_id = task_id

    def body(self, snap: ClusterSnapshot) -> Text:
        job = next((j for j in build_jobs(snap) if j.id == self.task_id), None)
        if job is None:
            return Text(
                "not running any more: it finished, failed or went back to the queue "
                "(h: its attempts)"
            )
        return job_text(job, snap, self.now)

    def watch_now(self) -> None:
        if self.snapshot is not None:
            try:
                self.query_one("#detail-body", Static).update(self.body(self.snapshot))
            except NoMatches:
                return

    def action_history(self) -> None:
        self.dismiss(None)
        self.app.post_message(Pane.DetailRequested("task", str(self.task_id)))
