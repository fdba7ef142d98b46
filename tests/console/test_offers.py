"""What each kind of cluster offers, on which machine (``console.offers``), and that the
actions performed (``console.actions``) are exactly those offered."""

from __future__ import annotations

from dataclasses import replace

import pytest

from console import actions
from console.offers import CURIO_STATES, HARMONY_MACHINE_ACTIONS, OFFERED, offer
from engine.harmonytask.machine_state import MachineState
from support.console_records import MACHINE


def test_every_action_offered_is_one_the_console_performs() -> None:
    assert set(actions.MACHINE_ACTIONS) == HARMONY_MACHINE_ACTIONS
    assert set(actions.CURIO_ACTIONS) == set(CURIO_STATES) == OFFERED["curio"]


@pytest.mark.parametrize(
    ("cluster", "kind", "state", "busy", "expected"),
    [
        ("harmony", "cordon", MachineState.ACTIVE, False, True),
        ("harmony", "drain", MachineState.CORDONED, False, True),  # greyed never, by state
        ("harmony", "cordon", None, False, None),  # no machine selected: greyed
        ("harmony", "cordon", MachineState.ACTIVE, True, None),  # an action under way
        ("harmony", "restart", None, False, True),
        ("harmony", "request_restart", MachineState.CORDONED, False, False),  # Curio's only
        ("curio", "cordon", MachineState.ACTIVE, False, True),
        ("curio", "cordon", MachineState.CORDONED, False, False),  # hidden: not in this state
        ("curio", "request_restart", MachineState.CORDONED, False, True),
        ("curio", "abort_restart", MachineState.ACTIVE, False, False),
        ("curio", "restart", None, False, False),  # Curio deletes a task at its limit
        ("curio", "resume", None, False, False),
        ("other", "cordon", MachineState.ACTIVE, False, False),
    ],
)
def test_offer(
    cluster: str, kind: str, state: MachineState | None, busy: bool, expected: bool | None
) -> None:
    machine = None if state is None else replace(MACHINE, state=state)
    assert offer(cluster, kind, machine, busy=busy) is expected
