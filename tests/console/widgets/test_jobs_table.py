"""The jobs table keeps each job's row while it reads the same (2,000 running jobs are not
built again at each refresh): the signature must cover everything but the elapsed time, which
is kept apart and redrawn by the tick."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from console.fixture import FIXED_NOW
from console.widgets.jobs_table import ELAPSED, job_cells, job_signature
from console.widgets.keyed_table import same_cell
from engine.snapshot.jobs import Job, JobTarget
from engine.snapshot.model import RunningTaskSnap
from support.console_records import MACHINE, STYLES

#: what job_cells reads of the snapshot (the time it was taken, to move elapsed times on)
SNAP: Any = SimpleNamespace(taken_at=FIXED_NOW)

TASK = RunningTaskSnap(
    id=101,
    name="SDR",
    owner_id=1,
    claimed_at=FIXED_NOW - timedelta(minutes=40),
    posted_time=FIXED_NOW - timedelta(hours=1),
    attempt=1,
    retries=0,
    elapsed=2400.0,
)
JOB = Job(TASK, MACHINE, JobTarget("sector", 1000, 1000), "running")

#: other values of every field of a job and of its task (a field added there must be here)
TASK_VARIANTS: dict[str, list[Any]] = {
    "id": [102],
    "name": ["PoRep"],
    "owner_id": [2],
    "claimed_at": [None, FIXED_NOW],
    "posted_time": [FIXED_NOW],
    "attempt": [2],
    "retries": [3],
    "elapsed": [5.0, 2460.0],
}
JOB_VARIANTS: dict[str, list[Any]] = {
    "task": [],  # TASK_VARIANTS
    "machine": [
        None,
        replace(MACHINE, name="node-b"),
        replace(MACHINE, name="", host_and_port="10.0.0.5:12300"),
        replace(MACHINE, host_and_port="node-a:other"),
        replace(MACHINE, cpu_load=0.9, contact_age=40.0),
    ],
    "target": [
        None,
        JobTarget("sector", 1000, 1001),
        JobTarget("sector", 1001, 1000),
        JobTarget("wdpost", 1000, 3, 0),
        JobTarget("wdpost", 1000, 3, 1),
        JobTarget("winning", 1000, 4321),
    ],
    "state": ["stopping", "owner lost"],
}


def _variants() -> list[tuple[str, Job]]:
    out = [(f"task.{name}", replace(JOB, task=replace(TASK, **{name: value})))
           for name, values in TASK_VARIANTS.items() for value in values]  # fmt: skip
    out += [(name, replace(JOB, **{name: value}))
            for name, values in JOB_VARIANTS.items() for value in values]  # fmt: skip
    return out


def test_every_field_that_changes_a_row_changes_its_signature() -> None:
    assert set(TASK_VARIANTS) == {f.name for f in fields(RunningTaskSnap)}
    assert set(JOB_VARIANTS) == {f.name for f in fields(Job)}
    checked = 0
    for prefix in ("t0", "f0"):
        before = job_cells(JOB, SNAP, FIXED_NOW, STYLES, "t0")
        for name, job in [*_variants(), ("prefix", JOB)]:
            after = job_cells(job, SNAP, FIXED_NOW, STYLES, prefix)
            for column, (old, new) in enumerate(zip(before, after, strict=True)):
                if column == ELAPSED or same_cell(old, new):
                    continue
                assert job_signature(JOB, "t0") != job_signature(job, prefix), (name, column)
                checked += 1
    assert checked > 15  # the variants do change cells
