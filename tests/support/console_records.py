"""Records as the console's panes draw them, built without a database: a machine of the
fixture's clock and a set of styles, for the tests of what a row is drawn from."""

from __future__ import annotations

from datetime import timedelta

from rich.style import Style

from console.fixture import FIXED_NOW
from console.widgets.cells import Styles
from engine.harmonytask.machine_state import MachineState
from engine.snapshot import MachineSnap

__all__ = ["MACHINE", "STYLES"]

#: distinct colours for each semantic style (a cell drawn in the wrong one differs)
STYLES = Styles(*(Style(color=c) for c in ("green", "yellow", "red", "blue", "cyan")),
                dim=Style(dim=True), bold=Style(bold=True))  # fmt: skip

#: an active machine reporting its load, five hours up, heard from 3.2 s ago
MACHINE = MachineSnap(
    id=1,
    host_and_port="node-a:worker",
    name="node-a",
    state=MachineState.ACTIVE,
    cpu=32,
    ram=1 << 38,
    gpu=1.0,
    cpu_load=0.25,
    ram_used=1 << 36,
    gpu_used=0.5,
    last_contact=FIXED_NOW,
    contact_age=3.2,
    stale=False,
    startup_time=FIXED_NOW - timedelta(hours=5),
    version="0.1.0",
    tasks=("SDR",),
    running=2,
)
