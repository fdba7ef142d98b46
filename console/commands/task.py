"""``harmony task add|list|history|restart``.

On a Curio cluster (a foreign schema) ``list`` and ``history`` read Curio's queue and history
with Curio's semantics (:mod:`.curio_task`); ``add`` and ``restart`` are refused there."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from dataclasses import asdict
from typing import Any

from engine.harmonytask import (
    TaskNotFound,
    add_tasks,
    list_tasks,
    parse_params,
    restart_task,
    task_history,
)
from engine.harmonytask.admin import handlers_of
from engine.harmonytask.claims import AddOutcomeUnknown
from engine.snapshot.format import took

from .arguments import int32, positive_int, row_id, task_count
from .common import CREATES_CLUSTER, CommandError, add_json_flag, open_db, print_json, print_table
from .task_types import check_addable

STATES = ("pending", "waiting", "running", "failed")


def register(sub: argparse._SubParsersAction) -> None:
    task = sub.add_parser("task", help="add, list and restart tasks; task history")
    actions = task.add_subparsers(dest="task_command", metavar="ACTION", required=True)

    add = actions.add_parser(
        "add",
        help="add tasks",
        description="Add tasks of a type. Built-in types: noop; sleep (--param ms=N); "
        "burn (--param ms=N, busy CPU in a worker process); fail (always fails: retries, then "
        "the failed state). The workload's types and those a machine of the cluster declares "
        "are accepted too; parameters are checked against the type before anything is "
        f"added. {CREATES_CLUSTER}",
    )
    add.add_argument("type", help="task type name")
    add.add_argument("--count", type=task_count, default=1, help="how many (default 1)")
    add.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="task parameter, repeatable",
    )
    add.add_argument("--priority", type=int32, default=0, help="higher runs first (default 0)")
    add.add_argument(
        "--allow-unknown",
        action="store_true",
        help="add a type no machine of this cluster runs yet (its parameters are not checked)",
    )
    add.set_defaults(run=run_add)

    ls = actions.add_parser("list", help="tasks in the queue (pending, waiting, running, failed)")
    ls.add_argument("--type", help="only this task type")
    ls.add_argument("--state", choices=STATES, help="only tasks in this state")
    ls.add_argument(
        "--limit", type=positive_int, default=100, help="at most this many (default 100)"
    )
    ls.add_argument(
        "--why",
        action="store_true",
        help="say why each pending or waiting task has not been claimed (no live machine runs "
        "its type, every one is cordoned, none has its resources, no storage path can hold "
        "its files, a retry wait, or queued behind N): a WHY column, or a 'why' key in JSON",
    )
    add_json_flag(ls)
    ls.set_defaults(run=run_list)

    hist = actions.add_parser("history", help="finished attempts, newest first")
    hist.add_argument("--type", help="only this task type")
    hist.add_argument("--task", type=row_id, metavar="ID", help="only this task")
    hist.add_argument("--failed", action="store_true", help="only failed attempts")
    hist.add_argument(
        "--limit", type=positive_int, default=50, help="at most this many (default 50)"
    )
    add_json_flag(hist)
    hist.set_defaults(run=run_history)

    restart = actions.add_parser("restart", help="take a failed task out of the failed state")
    restart.add_argument("id", type=row_id, help="task id")
    restart.set_defaults(run=run_restart)


async def run_add(args: argparse.Namespace) -> int:
    try:
        params = parse_params(args.param)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    db = await open_db(args, create=True)
    try:
        await check_addable(db, args.type, params, allow_unknown=args.allow_unknown)
        try:
            ids = await add_tasks(db, args.type, args.count, params, priority=args.priority)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        except AddOutcomeUnknown:
            # Neither "added" nor "failed" would be true: an operator told "failed" adds again.
            raise CommandError(
                f"the connection to the database was lost while adding: {args.count} "
                f"{args.type} task(s) may have been added: check `harmony task list`"
            ) from None
        handlers = await handlers_of(db, args.type)
    finally:
        await db.close()
    shown = f"{ids[0]}" if len(ids) == 1 else f"{ids[0]}..{ids[-1]}"
    print(f"added {len(ids)} {args.type} task(s): {shown}")
    if not handlers:
        print(f"note: no live machine runs {args.type!r} yet; the tasks wait for one")
    return 0


async def run_list(args: argparse.Namespace) -> int:
    db = await open_db(args, migrate=False, foreign=True)
    try:
        if db.foreign:
            from .curio_task import curio_task_list

            if args.why:
                return await _curio_list_why(db, args, curio_task_list)
            return await curio_task_list(db, args)
        rows = await list_tasks(db, name=args.type, state=args.state, limit=args.limit)
        why: dict[int, str] = {}
        if args.why:
            from engine.snapshot.why import why_waiting

            waiting = [r.id for r in rows if r.state in ("pending", "waiting")]
            why = {i: w.text for i, w in (await why_waiting(db, waiting)).items()}
    finally:
        await db.close()
    if args.json:
        if args.why:
            print_json([{**asdict(r), "why": why.get(r.id)} for r in rows])
        else:
            print_json(rows)
        return 0
    if not rows:
        print("no tasks in the queue")
        return 0
    headers = ["ID", "TYPE", "STATE", "MACHINE", "POSTED", "RETRIES", "ERROR"]
    table = [
        [
            r.id,
            r.name,
            r.state,
            r.owner or "",
            r.posted_time.strftime("%Y-%m-%d %H:%M:%S"),
            r.retries,
            (r.last_error or "")[:60],
        ]
        for r in rows
    ]
    if args.why:
        headers.append("WHY")
        for r, line in zip(rows, table, strict=True):
            line.append(why.get(r.id, ""))
    print_table(headers, table)
    return 0


async def _curio_list_why(db: Any, args: argparse.Namespace, listing: Any) -> int:
    """Curio's listing (its own semantics, :mod:`.curio_task`) with the why of each pending
    or waiting task added: a ``why`` key in JSON, a WHY column in the table."""
    from engine.snapshot.why import why_waiting

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = await listing(db, args)
    text = printed.getvalue()
    if args.json:
        items = json.loads(text)
        ids = [i["id"] for i in items if i["state"] in ("pending", "waiting")]
        why = {i: w.text for i, w in (await why_waiting(db, ids)).items()}
        print_json([{**i, "why": why.get(i["id"])} for i in items])
        return code
    lines = text.splitlines()
    if not lines or not lines[0].startswith("ID"):
        sys.stdout.write(text)  # "no tasks ...": nothing to explain
        return code
    # the table's rows start with their id; the summary line after it does not
    rows = [line for line in lines[1:] if line.split() and line.split()[0].isdigit()]
    states = {int(line.split()[0]): line.split()[2] for line in rows}
    ids = [i for i, state in states.items() if state in ("pending", "waiting")]
    why = {i: w.text for i, w in (await why_waiting(db, ids)).items()}
    width = max(len(line) for line in [lines[0], *rows])
    print(f"{lines[0]:<{width}}  WHY")
    for line in lines[1:]:
        if line in rows:
            print(f"{line:<{width}}  {why.get(int(line.split()[0]), '')}".rstrip())
        else:
            print(line)
    return code


async def run_history(args: argparse.Namespace) -> int:
    db = await open_db(args, migrate=False, foreign=True)
    try:
        if db.foreign:
            from .curio_task import curio_task_history

            return await curio_task_history(db, args)
        rows = await task_history(
            db, name=args.type, task_id=args.task, failures_only=args.failed, limit=args.limit
        )
    finally:
        await db.close()
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no task history")
        return 0
    print_table(
        ["TASK", "TYPE", "OUTCOME", "MACHINE", "ENDED", "TOOK", "ERROR"],
        [
            (
                r.task_id,
                r.name,
                r.outcome or ("done" if r.result else "failed"),
                r.completed_by_host_and_port,
                r.work_end.strftime("%Y-%m-%d %H:%M:%S"),
                took((r.work_end - r.work_start).total_seconds()),
                (r.err or "")[:60],
            )
            for r in rows
        ],
    )
    return 0


async def run_restart(args: argparse.Namespace) -> int:
    db = await open_db(args)
    try:
        name = await restart_task(db, args.id)
    except TaskNotFound as exc:
        raise CommandError(str(exc)) from None
    finally:
        await db.close()
    print(f"task {args.id} ({name}) restarted: retries reset, claimable now")
    return 0
