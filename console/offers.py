"""Which operator actions a cluster offers, and on which machine: what the panes' keys ask
(Textual's ``check_action``) at every snapshot and every cursor move.

Kept apart from :mod:`console.actions`, which performs them: the machines pane is made before
the console's first frame, and asking what applies must not load the engine's admin API and
Curio's machine statements (``tests/console/test_pane_kinds.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from engine.harmonytask.machine_state import MachineState

if TYPE_CHECKING:
    from engine.snapshot import MachineSnap

__all__ = ["CURIO_STATES", "HARMONY_MACHINE_ACTIONS", "OFFERED", "MachineAction", "offer"]

MachineAction = Literal["cordon", "uncordon", "drain", "request_restart", "abort_restart"]

#: our own cluster's machine actions (engine.harmonytask's admin API)
HARMONY_MACHINE_ACTIONS: frozenset[MachineAction] = frozenset({"cordon", "uncordon", "drain"})

#: on a Curio cluster, the machine actions and the states each makes sense in (hidden
#: otherwise): a restart is only requested on a cordoned machine (Curio's GUI offers it there),
#: an abort only where one is pending; a requested restart implies the cordon, which uncordon
#: clears alone; ``drain`` cordons (Curio has no drain)
CURIO_STATES: dict[str, frozenset[MachineState]] = {
    "cordon": frozenset({MachineState.ACTIVE}),
    "uncordon": frozenset({MachineState.CORDONED, MachineState.RESTARTING}),
    "drain": frozenset({MachineState.ACTIVE, MachineState.CORDONED}),
    "request_restart": frozenset({MachineState.CORDONED}),
    "abort_restart": frozenset({MachineState.RESTARTING}),
}

#: what each kind of cluster offers ("restart" is restarting a failed task: Curio deletes a
#: task at its failure limit, so there is nothing to restart, and the console restarts none;
#: "resume" is resuming a failed sector, whose Curio semantics are not implemented here)
OFFERED: dict[str, frozenset[str]] = {
    "harmony": frozenset({*HARMONY_MACHINE_ACTIONS, "restart", "resume"}),
    "curio": frozenset(CURIO_STATES),
}


def offer(
    cluster: str, kind: str, machine: MachineSnap | None = None, *, busy: bool = False
) -> bool | None:
    """Whether an action key applies, as Textual's ``check_action`` wants it: False (the
    cluster has no such action, or, on a Curio cluster, not for this machine's state:
    hidden), None (not now: no machine selected, or an action under way: greyed), True.

    ``machine`` is the selected one (None: no selection); ``kind`` "restart" is a task's,
    "resume" a sector's."""
    if kind not in OFFERED.get(cluster, frozenset()):
        return False
    if busy:
        return None
    if kind in ("restart", "resume"):
        return True
    if machine is None:
        return None
    # On a Curio cluster what does not apply to this machine now is hidden, not greyed: only
    # what applies shows in the footer (80 columns).
    return cluster != "curio" or machine.state in CURIO_STATES[kind]
