"""The machines pane keeps each machine's row while it reads the same (1,000 machines are not
built again at each refresh): the signatures must cover everything the row is drawn from, and
a refresh draws exactly what a fresh build would."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import timedelta
from typing import Any

from console.fixture import FIXED_NOW
from console.panes.machines import (
    CONTACT,
    UPTIME,
    MachinesPane,
    contact_signature,
    machine_cells,
    machine_signature,
    uptime_signature,
)
from console.widgets.keyed_table import KeyedTable, same_cell
from engine.harmonydb import DB
from engine.harmonytask.machine_state import MachineState
from engine.snapshot import MachineSnap
from support.console_records import MACHINE, STYLES

#: other values of every field of MachineSnap (a field added there must be added here)
VARIANTS: dict[str, list[Any]] = {
    "id": [2],
    "host_and_port": ["node-b:worker"],
    "name": ["", "other"],
    "state": list(MachineState),
    "cpu": [8],
    "ram": [1 << 30],
    "gpu": [0.0, 2.0],
    "cpu_load": [None, 0.9, 0.26],
    "ram_used": [None, 1 << 37],
    "gpu_used": [None, 1.0],
    "last_contact": [FIXED_NOW - timedelta(minutes=30)],
    "contact_age": [3.9, 4.1, 75.0, 4000.0],
    "stale": [True],
    "startup_time": [None, FIXED_NOW - timedelta(days=2)],
    "version": [None, "0.2.0"],
    "tasks": [(), ("SDR", "PoRep")],
    "running": [0, 7],
    "layers": [("gpu",)],
    "miners": [("t01000",)],
    "reports_load": [False],
    "host": ["boot:b1"],
}

MACHINES = [
    MACHINE,
    replace(MACHINE, state=MachineState.OFFLINE),
    replace(MACHINE, state=MachineState.DEAD),
    replace(MACHINE, stale=True),
    replace(MACHINE, reports_load=False, cpu_load=None, ram_used=None, gpu_used=None),
    replace(MACHINE, gpu=0.0, gpu_used=None),
]


def test_every_field_that_changes_a_row_changes_its_signature() -> None:
    assert set(VARIANTS) == {f.name for f in fields(MachineSnap)}
    signature_of = {CONTACT: contact_signature, UPTIME: uptime_signature}
    checked = 0
    for base in MACHINES:
        before = machine_cells(base, STYLES)
        for name, values in VARIANTS.items():
            for value in values:
                after_snap = replace(base, **{name: value})
                after = machine_cells(after_snap, STYLES)
                for column, (old, new) in enumerate(zip(before, after, strict=True)):
                    if same_cell(old, new):
                        continue
                    signature = signature_of.get(column, machine_signature)
                    assert signature(base) != signature(after_snap), (name, value, column)
                    checked += 1
    assert checked > 50  # the variants do change cells


def _drawn_as_built(app: Any) -> None:
    """Every row on the table is what machine_cells draws from the snapshot now."""
    pane = app.query_one(MachinesPane)
    table = app.query_one("#machines-table", KeyedTable)
    machines = {str(m.id): m for m in app.snapshot.machines}
    assert sorted(table.keys) == sorted(machines)
    for key in table.keys:
        fresh = machine_cells(machines[key], pane.palette)
        drawn = table.get_row(key)
        assert all(same_cell(a, b) for a, b in zip(drawn, fresh, strict=True)), key


async def test_a_refresh_builds_only_the_rows_that_changed(
    cluster: DB, console_app: Any, first_render: Any, refreshed: Any
) -> None:
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        pane = app.query_one(MachinesPane)
        count = len(app.snapshot.machines)
        _drawn_as_built(app)
        # the clock held, the cluster unchanged: no row is built again
        await refreshed(app, pilot)
        assert pane._rows.built == 0 and pane._contacts.built == 0
        _drawn_as_built(app)
        # an operator cordons node-a: its row, and only its row, is built again
        await cluster.exec("UPDATE harmony_machines SET unschedulable = true WHERE id = 1")
        await refreshed(app, pilot)
        assert pane._rows.built == 1 and pane._contacts.built == 0
        _drawn_as_built(app)
        # the clock moves a minute: every contact age moves, the rows stay
        app.clock.advance(60)
        await refreshed(app, pilot)
        assert pane._rows.built == 0 and pane._contacts.built == count
        _drawn_as_built(app)
