"""``harmony machine list|cordon|uncordon|drain|restart|abort-restart|forget``.

On a Curio cluster (a foreign schema) ``list`` reads Curio's machines and the actions follow
Curio's semantics, confirmed first (:mod:`.curio_machine`); ``forget`` is refused there."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import humanize

from engine.harmonytask import (
    MachineNotFound,
    cordon,
    drain,
    list_machines,
    request_restart,
    resolve_machine,
    uncordon,
)
from engine.harmonytask.forget import ForgetRefused, forget_machine
from engine.harmonytask.machine_state import MachineState

from .arguments import positive_number
from .common import CLOCK, CommandError, add_json_flag, open_db, print_json, print_table
from .curio_machine import curio_action, curio_list

if TYPE_CHECKING:
    from engine.harmonydb import DB

#: ``drain --wait`` ends when the machine reaches one of these
DONE_DRAINING = (MachineState.DRAINED, MachineState.OFFLINE, MachineState.DEAD)

ACTIONS = {
    "cordon": (cordon, "cordoned: no new tasks start there; running tasks continue"),
    "uncordon": (uncordon, "uncordoned: scheduling again"),
    "drain": (drain, "draining: no new tasks; it reports 'drained' when the last one ends"),
    "restart": (request_restart, "restart requested: it exits with status 100 once idle"),
}
#: actions a Curio cluster has and harmony's own cluster does without (uncordon cancels a
#: harmony machine's restart request)
CURIO_ONLY = {
    "abort-restart": "withdraw a restart request (Curio clusters; on harmony's, uncordon does)",
}
#: actions that ask for confirmation on a Curio cluster
CONFIRMED = ("cordon", "uncordon", "restart", "abort-restart")


def register(sub: argparse._SubParsersAction) -> None:
    machine = sub.add_parser("machine", help="list machines; cordon, drain or restart one")
    actions = machine.add_subparsers(dest="machine_command", metavar="ACTION", required=True)
    ls = actions.add_parser("list", help="machines with capacity, use, state and running tasks")
    add_json_flag(ls)
    ls.set_defaults(run=run_list)
    for name, (_, summary) in ACTIONS.items():
        p = actions.add_parser(name, help=summary.split(":")[0] + ": " + summary.split(": ")[1])
        p.add_argument("machine", metavar="NAME_OR_ID", help="machine id, name or host:port")
        if name == "drain":
            p.add_argument(
                "--wait", action="store_true", help="wait until the machine reports itself drained"
            )
            p.add_argument(
                "--timeout",
                type=positive_number,
                default=3600,
                help="give up waiting after this many seconds (default 3600)",
            )
        if name in CONFIRMED:
            _add_yes(p)
        p.set_defaults(run=run_action, action=name)
    for name, summary in CURIO_ONLY.items():
        p = actions.add_parser(name, help=summary)
        p.add_argument("machine", metavar="NAME_OR_ID", help="machine id, name or host:port")
        _add_yes(p)
        p.set_defaults(run=run_action, action=name)
    forget = actions.add_parser(
        "forget",
        help="remove a dead or departed machine from the list",
        description="Remove the row of a machine that left the cluster or was declared dead "
        "(or is silent past the cluster's machine timeout), with its details. Refused while it "
        "is alive or still owns tasks. Without this, such rows go a day after the machine left.",
    )
    forget.add_argument("machine", metavar="NAME_OR_ID", help="machine id, name or host:port")
    forget.set_defaults(run=run_forget)


def _add_yes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--yes",
        action="store_true",
        help="on a Curio cluster, do it without asking (for scripts); without a terminal it is "
        "refused otherwise",
    )


async def run_list(args: argparse.Namespace) -> int:
    db = await open_db(args, migrate=False, foreign=True)
    try:
        if db.foreign:
            return await curio_list(db, args)
        rows = await list_machines(db)
    finally:
        await db.close()
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no machines have joined the cluster yet (start one: harmony run --engine-only)")
        return 0
    print_table(
        ["ID", "MACHINE", "STATE", "CPU", "RAM", "GPU", "RUNNING", "LAST CONTACT", "UPTIME"],
        [
            (
                m.id,
                m.host_and_port,
                m.state,
                f"{(m.cpu_load or 0) * 100:.0f}% of {m.cpu}",
                f"{humanize.naturalsize(m.ram_used or 0, binary=True)}/"
                f"{humanize.naturalsize(m.ram, binary=True)}",
                f"{m.gpu:g}",
                m.running,
                f"{m.seconds_since_contact:.0f}s ago",
                humanize.naturaldelta(m.last_contact - m.startup_time) if m.startup_time else "",
            )
            for m in rows
        ],
    )
    return 0


async def run_action(args: argparse.Namespace) -> int:
    db = await open_db(args, foreign=True)
    try:
        if db.foreign:
            return await curio_action(db, args)
        if args.action in CURIO_ONLY:
            raise CommandError(
                f"`harmony machine {args.action}` is for a Curio cluster: on a harmony cluster, "
                "`harmony machine uncordon NAME` withdraws a restart request"
            )
        return await _harmony_action(db, args)
    finally:
        await db.close()


async def _harmony_action(db: DB, args: argparse.Namespace) -> int:
    """An action on harmony's own cluster (no confirmation, as before)."""
    action, summary = ACTIONS[args.action]
    try:
        machine = await resolve_machine(db, args.machine)
        await action(db, machine.id)
    except MachineNotFound as exc:
        raise CommandError(str(exc)) from None
    print(f"{machine.host_and_port} {summary}")
    if args.action == "drain" and args.wait:
        deadline = CLOCK.monotonic() + args.timeout
        while True:
            current = await resolve_machine(db, str(machine.id))
            if current.state in DONE_DRAINING:
                print(f"{machine.host_and_port} is {current.state}")
                return 0
            if CLOCK.monotonic() > deadline:
                raise CommandError(
                    f"{machine.host_and_port} still has {current.running} "
                    f"task(s) running after {args.timeout:g}s"
                )
            await CLOCK.sleep(1.0)
    return 0


async def run_forget(args: argparse.Namespace) -> int:
    db = await open_db(args)
    try:
        try:
            machine = await resolve_machine(db, args.machine)
            gone = await forget_machine(db, machine.id)
        except (MachineNotFound, ForgetRefused) as exc:
            raise CommandError(str(exc)) from None
    finally:
        await db.close()
    how = (
        "it had been declared dead"
        if gone.dead
        else "it had left the cluster"
        if gone.departed
        else "it was silent"
    )
    print(
        f"forgot machine {gone.host_and_port} (id {gone.id}): {how}, last seen "
        f"{humanize.naturaldelta(gone.silent_for)} ago"
    )
    return 0
