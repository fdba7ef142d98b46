"""``harmony events``: what happened in the cluster, newest first (the console's Events pane).

Both read :mod:`engine.snapshot.events` (on a Curio cluster :mod:`engine.snapshot.curio.events`,
which derives what Curio's tables record and says which kinds it cannot report).
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime

from engine.snapshot.events import KIND_GROUPS, EventKind, EventsSnap, read_events

from .arguments import positive_int
from .common import CommandError, add_json_flag, open_db, print_json, print_table

__all__ = ["parse_duration", "register"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")

EPILOG = """\
kinds: {kinds}
groups: {groups}

A Curio cluster keeps no event log: its events are derived from its tables, and it cannot
report a cordon (without a restart request), an uncordon, a drain, a clean leave, a retried or
lost attempt, a task restarted, a sector resumed, a missed PoSt or declared faults (the chain's,
known to Lotus).

examples:
  harmony events --since 1h
  harmony events --kind failures --limit 20
  harmony events --kind machine-dead --json
""".format(kinds=", ".join(k.value for k in EventKind), groups=", ".join(["all", *KIND_GROUPS]))


def parse_duration(text: str) -> float:
    """``90s``, ``15m``, ``1h30m``, ``2d``: seconds (argparse type)."""
    cleaned = text.strip().lower()
    parts = _PART.findall(cleaned)
    if not parts or "".join(n + u for n, u in parts) != cleaned:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (like 30m, 2h, 1d12h)")
    seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"not a positive duration: {text!r}")
    return seconds


def _kind(text: str) -> str:
    if text == "all" or text in KIND_GROUPS or text in {k.value for k in EventKind}:
        return text
    raise argparse.ArgumentTypeError(
        f"unknown kind {text!r}: one of all, {', '.join(KIND_GROUPS)}, or a kind (see --help)"
    )


def register(sub: argparse._SubParsersAction) -> None:
    events = sub.add_parser(
        "events",
        help="what happened in the cluster, newest first",
        description="Machines joined, left, declared dead, cordoned, drained; tasks failed "
        "(with their error) and restarted; sectors failed and resumed; WindowPoSt submitted or "
        "missed, faults and recoveries declared; blocks won or missed. The console's Events "
        "pane shows the same list.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    events.add_argument(
        "--since",
        type=parse_duration,
        default=24 * 3600.0,
        metavar="DUR",
        help="how far back (default 24h; like 30m, 2h, 7d)",
    )
    events.add_argument(
        "--kind",
        type=_kind,
        default=None,
        metavar="K",
        help="only this kind, or a group: failures, machines, tasks, sectors, post, blocks",
    )
    events.add_argument(
        "--limit", type=positive_int, default=100, help="at most N events (default 100)"
    )
    add_json_flag(events)
    events.set_defaults(run=run_events)


async def read(args: argparse.Namespace, now: datetime) -> EventsSnap:
    """The events ``args`` asks for, from whichever cluster ``args`` names."""
    db = await open_db(args, migrate=False, foreign=True)
    try:
        if db.foreign:
            from engine.snapshot.curio.events import read_curio_events
            from engine.snapshot.curio.machines import DEAD_AFTER

            return await read_curio_events(
                db,
                now,
                window=args.since,
                limit=args.limit,
                dead_after=DEAD_AFTER,
                kind=args.kind,
            )
        return await read_events(db, now, window=args.since, limit=args.limit, kind=args.kind)
    finally:
        await db.close()


async def run_events(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    snap = await read(args, now)
    if args.kind is not None and args.kind in snap.unsupported:
        raise CommandError(f"a Curio cluster does not record {args.kind} events")
    if args.json:
        print_json([e.as_json() for e in snap.events])
        return 0
    if snap.unsupported:
        print(f"(Curio cluster: no record of {', '.join(snap.unsupported)})")
    if not snap.events:
        print("no events in that window")
        return 0
    print_table(
        ["TIME", "KIND", "MACHINE", "SUBJECT", "MESSAGE"],
        [
            (
                e.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                e.kind,
                e.machine or "-",
                e.subject or "-",
                e.line[:100],
            )
            for e in snap.events
        ],
    )
    return 0
