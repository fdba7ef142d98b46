"""``harmony machine …`` on a Curio cluster: the list, read-only, and the operator's actions
with Curio's semantics (:mod:`engine.curio`), each asked for on the terminal first.

The actions are the only writes harmony makes to a Curio cluster. Each is confirmed (y/N on a
terminal, or ``--yes`` for a script; refused without either), and one whose state is already
there, or whose precondition fails (a restart on a machine that is not cordoned), asks nothing
and writes nothing. Curio has no drain, so ``drain`` is refused with what to do instead.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

import humanize

from engine.curio import (
    ACTIONS,
    ActionResult,
    CurioActionError,
    CurioMachine,
    find_machine,
)
from engine.snapshot.curio.machines import DEAD_AFTER, STALE_AFTER, read_machines
from engine.snapshot.timing import Timing

from .common import CLOCK, CommandError, command_words, print_json, print_table

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx
    from engine.snapshot.model import MachineSnap

__all__ = ["NO_DRAIN", "curio_action", "curio_list"]

NO_DRAIN = (
    "Curio has no drain: `harmony machine cordon {name}` stops new work there; its running "
    "tasks then end on their own (`harmony machine list` counts them); nothing was changed"
)

#: What each action does, for the question asked before it (Curio's semantics)
_WHAT = {
    "cordon": "no new tasks start there; {running} running task(s) continue",
    "uncordon": "it takes new tasks again (only the cordon is cleared)",
    "restart": "Curio's node exits with status 100 once its {running} running task(s) have "
    "ended, clearing its cordon, for its supervisor to start it again",
    "abort-restart": "the restart request is withdrawn; the cordon stays as it is",
}
_VERB = {
    "cordon": "Cordon",
    "uncordon": "Uncordon",
    "restart": "Request a restart of",
    "abort-restart": "Withdraw the restart request of",
}


async def curio_list(db: DB, args: argparse.Namespace) -> int:
    """Curio's machines, from the Curio read model's machines section (read-only)."""
    now = CLOCK.now()
    timing = Timing()

    async def read(tx: Tx) -> tuple[MachineSnap, ...]:
        machines, _running = await read_machines(
            timing.wrap(tx), now, stale_after=STALE_AFTER, dead_after=DEAD_AFTER, running_limit=0
        )
        return machines

    rows = await db.transaction(read, isolation="repeatable_read")
    if args.json:
        print_json(list(rows))
        return 0
    if not rows:
        print("no machines in this Curio cluster (a Curio node registers when it starts)")
        return 0
    print_table(
        ["ID", "NAME", "MACHINE", "STATE", "CPU", "RAM", "GPU", "RUNNING", "LAST CONTACT", "UP"],
        [
            (
                m.id,
                m.name,
                m.host_and_port,
                f"{m.state} (stale)" if m.stale else m.state,
                m.cpu,
                humanize.naturalsize(m.ram, binary=True),
                f"{m.gpu:g}",
                m.running,
                f"{m.contact_age:.0f}s ago",
                humanize.naturaldelta(m.uptime) if m.uptime is not None else "",
            )
            for m in rows
        ],
    )
    print(
        "Curio records no live CPU/RAM/GPU use: the figures are each machine's capacity; "
        "it reports in once a minute"
    )
    return 0


def _already(action: str, machine: CurioMachine) -> str | None:
    """Why there is nothing to do, or None."""
    if action == "cordon" and machine.unschedulable:
        return "is already cordoned"
    if action == "uncordon" and not machine.unschedulable:
        return "is not cordoned"
    if action == "restart" and machine.restart_request is not None:
        return f"already has a restart requested ({_since(machine)})"
    if action == "abort-restart" and machine.restart_request is None:
        return "has no restart requested"
    return None


def _since(machine: CurioMachine) -> str:
    assert machine.restart_request is not None
    return f"asked {humanize.naturaltime(CLOCK.now() - machine.restart_request)}"


async def _confirmed(args: argparse.Namespace, question: str) -> bool:
    """The operator's yes: ``--yes``, else y on a terminal; no terminal and no --yes refuses."""
    if args.yes:
        return True
    if not sys.stdin.isatty():
        raise CommandError(
            f"`harmony {command_words(args)}` changes the Curio cluster: confirm it on a "
            "terminal or pass --yes; nothing was changed"
        )
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    answer = await asyncio.to_thread(sys.stdin.readline)
    return answer.strip().lower() in ("y", "yes")


def _done(action: str, result: ActionResult) -> str:
    m = result.machine
    label = f"{m.label} ({m.host_and_port}, id {m.id})" if m.name else m.label
    if action == "cordon":
        return f"{label} cordoned: no new tasks start there; {m.running} running task(s) continue"
    if action == "uncordon":
        tail = (
            f"; a restart is still requested ({_since(m)}): `harmony machine abort-restart "
            f"{m.id}` withdraws it"
            if m.restart_request is not None
            else ""
        )
        return f"{label} uncordoned: it takes new tasks again{tail}"
    if action == "restart":
        return (
            f"{label} restart requested: Curio's node exits with status 100 once its "
            f"{m.running} running task(s) have ended"
        )
    stays = "cordoned" if m.unschedulable else "schedulable"
    return f"{label} restart request withdrawn; it stays {stays}"


async def curio_action(db: DB, args: argparse.Namespace) -> int:
    """One of Curio's machine actions, confirmed first (see the module docstring)."""
    action = args.action
    if action == "drain":
        raise CommandError(NO_DRAIN.format(name=args.machine))
    try:
        machine = await find_machine(db, args.machine)
    except CurioActionError as exc:
        raise CommandError(f"{exc} (see `harmony machine list`)") from None
    already = _already(action, machine)
    if already is not None:
        print(f"{machine.label} {already}; nothing was changed")
        return 0
    if action == "restart" and not machine.unschedulable:
        raise CommandError(
            f"{machine.label} is not cordoned: Curio restarts only a cordoned machine "
            f"(`harmony machine cordon {args.machine}` first); nothing was changed"
        )
    question = (
        f"{_VERB[action]} {machine.label} ({machine.host_and_port}, id {machine.id}) in the "
        f"Curio cluster (schema {args.schema!r}): "
        + _WHAT[action].format(running=machine.running)
        + ". Go ahead?"
    )
    if not await _confirmed(args, question):
        print("not confirmed; nothing was changed")
        return 1
    try:
        result = await ACTIONS[action](db, machine.id)
    except CurioActionError as exc:
        raise CommandError(str(exc)) from None
    print(_done(action, result) if result.changed else f"{machine.label}: nothing to change")
    return 0
