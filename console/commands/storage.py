"""``harmony storage attach|detach|list|redeclare|find|move``: the cluster's storage paths.

Every action runs on the host whose directories it names (attach, detach and redeclare act on
this machine's view), and goes through :mod:`engine.storage`; this module only parses and prints.
On a Curio cluster (a foreign schema) ``list`` reads Curio's storage paths (:mod:`.curio_storage`);
the other actions are refused there.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from engine.storage import (
    StorageError,
    StorageHeartbeat,
    attach,
    detach,
    list_paths,
    parse_size,
    redeclare,
    size_str,
)
from engine.storage.paths import split_list

from ..storage_report import render_path
from .common import CREATES_CLUSTER, CommandError, open_db, print_json

ATTACH_EPILOG = """\
The directory gets a sectorstore.json (Lotus's format) holding a new, stable storage ID and the
settings; it keeps them when detached and re-attached, or attached on another host that shares
it (NFS). Attaching a directory that already has one reuses its ID and settings: options that
contradict it are refused, edit the file instead.

examples:
  harmony storage attach /mnt/nvme1 --seal --weight 10
  harmony storage attach /mnt/hdd1 --store --max-storage 20TiB --groups archive
"""


def register(sub: argparse._SubParsersAction) -> None:
    storage = sub.add_parser(
        "storage",
        help="storage paths: attach, detach, list, redeclare, find, move",
        description="Storage paths hold sector files (unsealed, sealed, cache, ...). Each "
        "machine reports the paths it reaches every 10 s; tasks reserve space on them.",
    )
    actions = storage.add_subparsers(dest="storage_command", metavar="ACTION", required=True)

    a = actions.add_parser(
        "attach",
        help="initialise a directory as a storage path and attach it on this host",
        description="Initialise PATH as a storage path (or reuse its sectorstore.json) and "
        "attach it on this host. Without --seal or --store the path is read-only. "
        + CREATES_CLUSTER,
        epilog=ATTACH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    a.add_argument("path", metavar="PATH", help="an existing directory")
    a.add_argument(
        "--seal",
        action="store_true",
        default=None,
        help="use for sealing: scratch space for sectors in progress (fast disk)",
    )
    a.add_argument(
        "--store",
        action="store_true",
        default=None,
        help="use for long-term storage of finalized sectors",
    )
    a.add_argument(
        "--weight",
        type=_non_negative_int,
        metavar="N",
        help="allocation preference; paths are chosen by free space x weight "
        "(default 10; 0 = never chosen for new files)",
    )
    a.add_argument(
        "--max-storage",
        type=_size,
        metavar="SIZE",
        help="limit the bytes sector files may use here, e.g. 2TiB (default: whole filesystem)",
    )
    for flag, what in (
        ("--groups", "groups this path belongs to"),
        ("--allow-to", "groups this path's files may be moved to (default: any)"),
        ("--allow-types", "only accept these file types (unsealed,sealed,cache,update,...)"),
        ("--deny-types", "refuse these file types"),
        ("--allow-miners", "only accept files of these miners (t01000,...)"),
        ("--deny-miners", "refuse files of these miners"),
    ):
        a.add_argument(
            flag, action="append", metavar="A,B", help=f"{what}; comma-separated, repeatable"
        )
    a.set_defaults(run=run_attach)

    d = actions.add_parser(
        "detach",
        help="detach a storage path from this host (files stay on disk)",
        description="Detach a storage path from this host, by directory or storage ID. Files "
        "and sectorstore.json stay. When no host has the path any more, it is removed from the "
        "cluster together with its sector file declarations; attach it again and run "
        "redeclare to bring them back.",
    )
    d.add_argument("path", metavar="PATH|ID", help="the local directory or the storage ID")
    d.set_defaults(run=run_detach)

    ls = actions.add_parser(
        "list",
        help="list storage paths with usage, file counts and health",
        description="List every storage path in the cluster, largest first: filesystem usage "
        "('#' used, '*' reserved for running tasks, ' ' free), the configured limit, declared "
        "sector files per type, settings, health and the hosts that reach it.",
    )
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(run=run_list)

    r = actions.add_parser(
        "redeclare",
        help="re-scan this host's paths and declare the sector files found",
        description="Clean up moves interrupted by a crash, then scan this host's storage "
        "paths and declare every whole sector file found. Sealed, unsealed and update files "
        "must be exactly one sector long: a truncated file is reported, not declared (exit "
        "status 1).",
    )
    r.add_argument(
        "--drop-missing",
        action="store_true",
        help="also forget declarations on these paths whose file is gone or bad",
    )
    r.add_argument("--id", metavar="ID", help="only this storage path")
    r.add_argument(
        "--sector-size",
        type=_size,
        metavar="SIZE",
        help="sector size to check files against when the cluster does not know it, e.g. 2KiB",
    )
    r.set_defaults(run=run_redeclare)

    from . import storage_find, storage_move

    storage_find.register(actions)
    storage_move.register(actions)


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {value}")
    return value


def _names(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [name for value in values for name in split_list(value)]


async def _with_db(
    args: argparse.Namespace,
    action: Callable[[Any], Awaitable[int]],
    *,
    create: bool = False,
    writes: bool = True,
) -> int:
    """Run ``action`` on the cluster's DB; ``writes`` False for a command that only reads
    (it neither migrates the schema nor is refused under ``--read-only``)."""
    db = await open_db(args, create=create, migrate=writes)
    try:
        return await action(db)
    except StorageError as exc:
        raise CommandError(str(exc)) from None
    finally:
        await db.close()


async def run_attach(args: argparse.Namespace) -> int:
    async def action(db: Any) -> int:
        attached = await attach(
            db,
            args.path,
            can_seal=args.seal,
            can_store=args.store,
            weight=args.weight,
            max_storage=args.max_storage,
            groups=_names(args.groups),
            allow_to=_names(args.allow_to),
            allow_types=_names(args.allow_types),
            deny_types=_names(args.deny_types),
            allow_miners=_names(args.allow_miners),
            deny_miners=_names(args.deny_miners),
        )
        how = "new sectorstore.json" if attached.initialised else "existing sectorstore.json"
        print(f"attached {attached.storage_id} at {attached.local_path} on {attached.host} ({how})")
        for health in await StorageHeartbeat(db, attached.host).beat_once():
            if health.storage_id != attached.storage_id:
                continue
            if health.ok:
                print(
                    f"capacity {size_str(health.capacity)}, available {size_str(health.available)}"
                )
            else:
                print(f"warning: heartbeat failed: {health.error}")
        return 0

    return await _with_db(args, action, create=True)


async def run_detach(args: argparse.Namespace) -> int:
    async def action(db: Any) -> int:
        result = await detach(db, args.path)
        print(f"detached {result.storage_id} ({result.local_path}) from {result.host}")
        if result.removed:
            print(
                f"no host has it any more: removed from the cluster with "
                f"{result.dropped_locations} sector file declarations (files left on disk)"
            )
        return 0

    return await _with_db(args, action)


async def run_list(args: argparse.Namespace) -> int:
    db = await open_db(args, migrate=False, foreign=True)
    try:
        if db.foreign:
            from .curio_storage import curio_storage_list

            return await curio_storage_list(db, args)
        infos = await list_paths(db)
    except StorageError as exc:
        raise CommandError(str(exc)) from None
    finally:
        await db.close()
    if args.json:
        print_json([info.to_json() for info in infos])
    elif not infos:
        print("no storage paths attached (see `harmony storage attach --help`)")
    else:
        print("\n\n".join(render_path(info) for info in infos))
    return 0


async def run_redeclare(args: argparse.Namespace) -> int:
    async def action(db: Any) -> int:
        reports = await redeclare(
            db,
            storage_id=args.id,
            drop_missing=args.drop_missing,
            sector_size=args.sector_size,
        )
        if not reports:
            where = f"storage path {args.id}" if args.id else "storage paths"
            raise CommandError(f"no {where} attached on this host")
        for report in reports:
            line = f"{report.storage_id} ({report.local_path}): declared {report.declared}"
            if args.drop_missing:
                line += f", dropped {report.dropped}"
            elif report.missing:
                line += (
                    f"; {report.missing} declared file(s) gone from disk, kept declared and "
                    "marked (restore them, or --drop-missing forgets them)"
                )
            print(line)
            for problem in report.problems:
                print(f"  problem: {problem}")
        return 1 if any(report.problems for report in reports) else 0

    return await _with_db(args, action)
