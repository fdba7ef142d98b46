"""``harmony alerts list|check|ack|mute``: what the AlertEval task found, acknowledged and
muted by the operator. On a Curio cluster ``list`` evaluates the checks whose data is in
Curio's tables, live and read-only, and with its Lotus node (``--lotus-api``,
``FULLNODE_API_INFO`` or Curio's ``[Apis] ChainApiInfo`` layers, read once as ``proving
deadlines`` does) those that need the chain; without one it says which were not evaluated. Ack
and mute are Curio's own there (its web UI)."""

from __future__ import annotations

import argparse
import getpass
import re
import socket
import sys
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.alerts.model import Alert, Severity
    from engine.harmonydb import DB

from .common import CommandError, open_db, print_json, print_table

DESCRIPTION = """\
Alerts are what could cost the miner power or rewards: a WindowPoSt deadline closed without
a landed proof, faulty sectors, a partition a proof could not read, a won block not included
or not mined, tasks failing (for good, or more than 5 per type or machine in 30 minutes),
store space short of the sectors being sealed, live sectors with no sealed file, a storage
path whose heartbeat is stale or whose disk check failed, sealing work no path can hold,
messages unconfirmed for an hour, a chain that stopped advancing. One machine of the cluster
(any running the AlertEval task) evaluates them every --alerts-interval (default 5 min) and
keeps them with their first-seen time; an alert clears by itself once the condition is gone.
`harmony run --alerts-webhook URL` sends them to Alertmanager or Slack.

On a Curio cluster `list` and `check` evaluate Curio's checks now, read-only; a missed
deadline, recovering sectors and a Lotus node behind the chain need its Lotus node
(--lotus-api, FULLNODE_API_INFO or Curio's [Apis] ChainApiInfo layers)."""

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_arg(text: str) -> float:
    """``90``, ``30s``, ``15m``, ``2h``, ``1d``; 0 unmutes."""
    match = _DURATION.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (e.g. 30m, 2h, 1d)")
    return float(match.group(1)) * _UNIT[match.group(2)]


def register(sub: argparse._SubParsersAction) -> None:
    alerts = sub.add_parser(
        "alerts",
        help="alerts: list, evaluate now, acknowledge, mute",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = alerts.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)
    ls = actions.add_parser(
        "list",
        help="open alerts, most severe first",
        description="Open alerts, most severe and oldest first, as the last evaluation left "
        "them (state: new, acked, muted). On a Curio cluster the checks are evaluated now.",
    )
    ls.add_argument("--all", action="store_true", help="cleared alerts (still kept) too")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    _lotus_option(ls)
    ls.add_argument(
        "--count",
        action="store_true",
        help="only how many open alerts need attention (neither acknowledged nor muted), by "
        "severity: what the console's header badge shows (for a monitoring script)",
    )
    ls.set_defaults(run=run_list)
    check = actions.add_parser(
        "check",
        help="evaluate every check now and record the result (as AlertEval does)",
    )
    check.add_argument("--json", action="store_true", help="machine-readable output")
    _lotus_option(check)
    check.set_defaults(run=run_check)
    a = actions.add_parser(
        "ack",
        help="acknowledge an alert (by ID) or every open alert of a check (by name)",
        description="Acknowledged alerts stay listed until they clear, but no longer count "
        "as new nor go to the webhook. One that clears and comes back is new again.",
    )
    a.add_argument("target", metavar="ID|CHECK")
    a.set_defaults(run=run_ack)
    m = actions.add_parser(
        "mute",
        help="mute an alert (by ID) or a check's open alerts for a while",
        description="A muted alert stays listed but is not counted nor sent to the webhook "
        "until the time is up, even if it clears and comes back meanwhile. --for 0 unmutes.",
    )
    m.add_argument("target", metavar="ID|CHECK")
    m.add_argument(
        "--for",
        dest="duration",
        type=duration_arg,
        required=True,
        metavar="DURATION",
        help="how long: 30m, 2h, 1d (0 unmutes)",
    )
    m.set_defaults(run=run_mute)


def _lotus_option(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a value given before the command (the console's global --lotus-api) stays.
    parser.add_argument(
        "--lotus-api",
        metavar="API_INFO",
        default=argparse.SUPPRESS,
        help="on a Curio cluster, the Lotus node for the checks that need the chain: missed "
        "deadlines, recovering sectors, its sync (TOKEN:/ip4/HOST/tcp/PORT/http; default: "
        "FULLNODE_API_INFO, then Curio's [Apis] ChainApiInfo layers; without one, those are "
        "not evaluated)",
    )


async def curio_live(db: DB, args: argparse.Namespace) -> tuple[list[Alert], str]:
    """A Curio cluster's checks evaluated now, with its Lotus node's chain state when one is
    given (read once, bounded, as ``proving deadlines`` reads it), and a note saying which
    checks were not evaluated without it."""
    from engine.alerts import evaluate_live
    from engine.alerts.curio_checks import lotus_checks_skipped

    from .common import CLOCK
    from .curio_proving import chain_state, read_post_snap

    now = CLOCK.now()
    miners = tuple(m.sp_id for m in (await read_post_snap(db, now, None)).miners)
    chain, problem = await chain_state(db, getattr(args, "lotus_api", None), miners, now)
    alerts = await evaluate_live(db, chain=chain)
    if chain is not None:
        return alerts, ""
    return alerts, f"{lotus_checks_skipped(str(problem))}."


def who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _age(now: datetime, then: datetime) -> str:
    from engine.snapshot.format import duration

    return duration(max(0.0, (now - then).total_seconds()))


def _print(alerts: list, now: datetime, as_json: bool, *, note: str = "") -> None:
    if as_json:
        print_json([a.to_json(now) for a in alerts])
        return
    if note:
        print(note)
    if not alerts:
        print("no alerts")
        return
    print_table(
        ["ID", "SEVERITY", "STATE", "CHECK", "SUBJECT", "FIRST SEEN", "MESSAGE"],
        [
            [
                a.id or "-",
                a.severity,
                a.state(now),
                a.check,
                a.subject,
                f"{_age(now, a.first_seen)} ago",
                a.message,
            ]
            for a in alerts
        ],
    )


def _print_counts(counts: dict[Severity, int], as_json: bool) -> None:
    """``--count``: the badge's figures, most severe first."""
    from engine.alerts.model import Severity

    if as_json:
        print_json({**{str(s): counts.get(s, 0) for s in Severity}, "total": sum(counts.values())})
        return
    total = sum(counts.values())
    if not total:
        print("no alert needs attention")
        return
    parts = [f"{counts[s]} {s}" for s in Severity if counts.get(s)]
    print(f"{total} need{'s' if total == 1 else ''} attention: {', '.join(parts)}")


def _skipped(skipped: str, as_json: bool) -> str:
    """The note on checks not evaluated: in the text, or on stderr beside JSON or a count (a
    script reading stdout keeps its format; its log still says the count is partial)."""
    if skipped and as_json:
        print(skipped, file=sys.stderr)
        return ""
    return skipped


async def run_list(args: argparse.Namespace) -> int:
    from engine.alerts import list_alerts
    from engine.alerts.store import attention_counts

    db = await open_db(args, migrate=False, read_only=True, foreign=True)
    try:
        now = await db.query_value("SELECT now()")
        if db.foreign:
            alerts, skipped = await curio_live(db, args)
            if args.count:
                counts: dict[Severity, int] = {}
                for a in alerts:
                    counts[a.severity] = counts.get(a.severity, 0) + 1
                _skipped(skipped, as_json=True)
                _print_counts(counts, args.json)
                return 0
            note = (
                "Curio cluster: checks evaluated now, read-only (nothing stored); acknowledge "
                "and mute in Curio's web UI."
            )
            skipped = _skipped(skipped, args.json)
            _print(alerts, now, args.json, note=f"{note}\n{skipped}" if skipped else note)
            return 0
        if args.count:
            _print_counts(await attention_counts(db, now), args.json)
            return 0
        alerts = await list_alerts(db, include_cleared=args.all)
        _print(alerts, now, args.json)
    finally:
        await db.close()
    return 0


async def run_check(args: argparse.Namespace) -> int:
    from engine.alerts import evaluate, list_alerts

    db = await open_db(args, foreign=True)
    try:
        now = await db.query_value("SELECT now()")
        if db.foreign:
            alerts, skipped = await curio_live(db, args)
            note = "Curio cluster: not stored."
            skipped = _skipped(skipped, args.json)
            _print(alerts, now, args.json, note=f"{note}\n{skipped}" if skipped else note)
            return 0
        result = await evaluate(db)
        if not args.json:
            print(
                f"evaluated: {result.raised} raised, {result.cleared} cleared"
                + (f", checks failed: {', '.join(result.failed)}" if result.failed else "")
            )
        _print(await list_alerts(db), now, args.json)
        return 1 if result.failed else 0
    finally:
        await db.close()


async def _change(args: argparse.Namespace, what: str) -> list[int]:
    from engine.alerts import NoSuchAlert, ack, mute

    db = await open_db(args, foreign=True)
    try:
        if db.foreign:
            raise CommandError(
                f"schema {args.schema!r} is a Curio cluster: {what} its alerts in Curio's web "
                "UI (harmony never writes to a Curio cluster); nothing was changed"
            )
        try:
            if what == "acknowledge":
                return await ack(db, args.target, who())
            return await mute(db, args.target, args.duration, who())
        except NoSuchAlert as exc:
            raise CommandError(str(exc)) from None
    finally:
        await db.close()


async def run_ack(args: argparse.Namespace) -> int:
    ids = await _change(args, "acknowledge")
    print(f"acknowledged {len(ids)} alert(s): {', '.join(map(str, ids))}")
    return 0


async def run_mute(args: argparse.Namespace) -> int:
    ids = await _change(args, "mute")
    from engine.snapshot.format import duration

    how = "unmuted" if args.duration <= 0 else f"muted for {duration(args.duration)}"
    print(f"{how}: {len(ids)} alert(s): {', '.join(map(str, ids))}")
    return 0
