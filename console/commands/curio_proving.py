"""``harmony proving info|deadlines`` on a Curio cluster: the Curio read model's PoSt section
(:func:`engine.snapshot.curio.post.read_post`) in ``lotus-miner``'s layouts.

What the database knows (the miners, each deadline's sectors and faults as Curio's
SectorMetadata task last recorded them, Curio's WindowPoSt work this period, its WinningPoSt) is
always shown. Head, deadline windows, recoveries and power come from a Lotus node: the one of
``--lotus-api``, ``FULLNODE_API_INFO`` or Curio's ``[Apis] ChainApiInfo`` layers, read once
(:meth:`ChainWatch.refresh`, bounded by :data:`LOTUS_TIMEOUT`). Without one, what cannot be
known is printed as such (the read model's ``missing`` lines) and the command still succeeds.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from engine.chain import Miner, parse_miner
from engine.chain.deadlines import DeadlineInfo, deadline_info_from_offset
from engine.chain.proving import DeadlineRow, ProvingInfo
from engine.snapshot.curio.chain import ChainState, ChainWatch
from engine.snapshot.curio.post import read_post
from engine.snapshot.timing import Timing

from .common import CLOCK, CommandError, print_json

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx
    from engine.snapshot.model import PostMiner, PostSnap

__all__ = ["LOTUS_TIMEOUT", "CurioPost", "curio_deadlines", "curio_info", "read_curio_post"]

#: Seconds one Lotus call may take, and the whole read of the node
CALL_TIMEOUT = 5.0
LOTUS_TIMEOUT = 15.0


@dataclass(frozen=True)
class CurioPost:
    """The PoSt section as read for one command, and why there is no chain state (or None)."""

    post: PostSnap
    miner: PostMiner
    lotus_problem: str | None

    @property
    def chain(self) -> bool:
        p = self.post
        return p.profile is not None and p.genesis is not None and p.head_epoch is not None

    def current(self) -> DeadlineInfo | None:
        """The deadline open at the chain head (None without chain state)."""
        p = self.post
        if p.profile is None or p.head_epoch is None:
            return None
        return deadline_info_from_offset(p.profile, self.miner.proving_period_offset, p.head_epoch)


async def read_post_snap(db: DB, now: datetime, chain: ChainState | None) -> PostSnap:
    """The PoSt section of a Curio cluster, read once as the console reads it (one
    repeatable-read transaction): the proving commands and ``alerts`` on Curio share it."""
    timing = Timing()

    async def read(tx: Tx) -> PostSnap:
        return await read_post(timing.wrap(tx), now, chain)

    return await db.transaction(read, isolation="repeatable_read")


async def chain_state(
    db: DB, lotus_api: str | None, miners: tuple[int, ...], now: datetime
) -> tuple[ChainState | None, str | None]:
    """One bounded read of the Lotus node, or why there is none (one line, no token)."""
    from engine.lotus import LotusError, resolve_endpoint

    try:
        endpoints = await resolve_endpoint(lotus_api, db=db)
    except LotusError as exc:
        return None, _one_line(exc)
    watch = ChainWatch(
        endpoints[0], call_timeout=CALL_TIMEOUT, refresh_timeout=LOTUS_TIMEOUT, clock=CLOCK.now
    )
    try:
        watch.follow(miners)
        async with asyncio.timeout(LOTUS_TIMEOUT + 1):
            state = await watch.refresh(now)
    except Exception as exc:  # the watch reports failures in its state; this is a last guard
        return None, f"Lotus node {endpoints[0].info.url}: {_one_line(exc)}"
    finally:
        await watch.close()
    return state, None  # a failing node: the read model's ``missing`` says how it failed


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


async def read_curio_post(db: DB, args: argparse.Namespace) -> CurioPost:
    """The miner asked for (``--miner``, or the cluster's only one) with its PoSt figures."""
    now = CLOCK.now()
    post = await read_post_snap(db, now, None)
    wanted: int | None = None
    if args.miner is not None:
        try:
            wanted = parse_miner(args.miner)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    ids = tuple(m.sp_id for m in post.miners)
    if not ids:
        raise CommandError(
            "no miners in this Curio cluster (none has sealed sectors in sectors_meta, and no "
            "node serves one)"
        )
    if wanted is None and len(ids) > 1:
        names = ", ".join(m.address for m in post.miners)
        raise CommandError(f"several miners ({names}): choose one with --miner")
    sp_id = wanted if wanted is not None else ids[0]
    if sp_id not in ids:
        names = ", ".join(m.address for m in post.miners)
        raise CommandError(f"no miner {args.miner} in this Curio cluster (its miners: {names})")
    state, problem = await chain_state(db, getattr(args, "lotus_api", None), (sp_id,), now)
    if state is not None:
        post = await read_post_snap(db, now, state)
    miner = next(m for m in post.miners if m.sp_id == sp_id)
    return CurioPost(post, miner, problem)


def _time_of(post: PostSnap, epoch: int) -> datetime:
    assert post.genesis is not None and post.profile is not None
    return post.genesis + timedelta(seconds=epoch * post.profile.block_time)


def _not_known(cp: CurioPost) -> list[str]:
    lines = [f"not known: {m}" for m in cp.post.missing]
    if cp.lotus_problem:
        lines.append(f"Lotus: {cp.lotus_problem}")
    return lines


def _curio_work(miner: PostMiner) -> list[str]:
    """Curio's WindowPoSt work in the period counted, per deadline with any, and WinningPoSt."""
    lines = []
    if miner.period_start:
        work = [
            f"{d.index}: {d.scheduled} scheduled, {d.computed} computed, {d.submitted} submitted"
            + (
                f", {d.recoveries_declared} recovery declaration(s)"
                if d.recoveries_declared
                else ""
            )
            for d in miner.deadlines
            if d.scheduled or d.computed or d.submitted or d.recoveries_declared
        ]
        lines.append(
            f"Curio WindowPoSt (period {miner.period_start}, in partitions): "
            + ("; ".join(work) if work else "nothing scheduled")
        )
    last = f", last won epoch {miner.last_win_epoch}" if miner.last_win_epoch is not None else ""
    lines.append(
        f"Curio WinningPoSt (24 h): {miner.winning_attempts} elections, {miner.winning_wins} "
        f"won, {miner.winning_missed} won but not included{last}"
    )
    return lines


def _work_json(miner: PostMiner) -> dict[str, Any]:
    return {
        "period_start": miner.period_start or None,
        "winning_attempts": miner.winning_attempts,
        "winning_wins": miner.winning_wins,
        "winning_missed": miner.winning_missed,
        "last_win_epoch": miner.last_win_epoch,
    }


async def curio_info(db: DB, args: argparse.Namespace) -> int:
    from .proving_format import format_info

    cp = await read_curio_post(db, args)
    m, post = cp.miner, cp.post
    info = cp.current()
    if info is not None:
        assert post.profile is not None and post.genesis is not None
        proving = ProvingInfo(
            miner=Miner(m.sp_id, m.sector_size, 0, m.proving_period_offset, 0),
            current_epoch=info.current_epoch,
            deadline=info,
            live=m.live,
            faults=m.faulty,
            recovering=m.recovering,
            deadline_sectors=m.deadlines[info.index].live,
            genesis=post.genesis,
            block_time=post.profile.block_time,
        )
        fault_percent: float | None = proving.fault_percent
    else:
        proving = None
        fault_percent = float(m.faulty * 100 // m.live) if m.live else 0.0
    if args.json:
        d = info
        print_json(
            {
                "miner": m.address,
                "current_epoch": post.head_epoch,
                "proving_period_boundary": proving.period_boundary if proving else None,
                "proving_period_start": d.period_start if d else None,
                "next_period_start": d.next_period_start if d else None,
                "faults": m.faulty,
                "fault_percent": fault_percent,
                "recovering": m.recovering if cp.chain else None,
                "live_sectors": m.live,
                "deadline_index": d.index if d else None,
                "deadline_sectors": m.deadlines[d.index].live if d else None,
                "deadline_open": d.open if d else None,
                "deadline_close": d.close if d else None,
                "deadline_challenge": d.challenge if d else None,
                "deadline_fault_cutoff": d.fault_cutoff if d else None,
                "raw_power": m.raw_power,
                "qa_power": m.qa_power,
                "curio": _work_json(m),
                "chain_state": cp.chain,
                "missing": list(post.missing),
                "lotus_problem": cp.lotus_problem,
            }
        )
        return 0
    if proving is not None:
        print(format_info(proving, address=m.address))
    else:
        print(
            "\n".join(
                [
                    f"Miner: {m.address}",
                    "Current Epoch:           unknown (no chain state)",
                    "",
                    f"Faults:      {m.faulty} ({fault_percent:.2f}%) (as Curio last recorded)",
                    "Recovering:  unknown (Curio does not record recoveries)",
                    f"Live sectors: {m.live} (as Curio last recorded)",
                    "Deadline Index:       unknown (needs the chain head)",
                ]
            )
        )
    print("\n".join(["", *_curio_work(m), *_not_known(cp)]))
    return 0


async def curio_deadlines(db: DB, args: argparse.Namespace) -> int:
    from .proving_format import format_deadline_table

    if args.all:
        raise CommandError(
            "--all is not available on a Curio cluster: Curio records live sectors only "
            "(sectors_meta); nothing was changed"
        )
    cp = await read_curio_post(db, args)
    m, post = cp.miner, cp.post
    current = cp.current()
    rows: list[DeadlineRow | None] = []
    for d in m.deadlines:
        if current is None or post.profile is None:
            rows.append(None)
            continue
        open_epoch = current.open + (d.index - current.index) * post.profile.wpost_challenge_window
        rows.append(
            DeadlineRow(
                index=d.index,
                open_epoch=open_epoch,
                open_time=_time_of(post, open_epoch),
                partitions=d.partitions,
                sectors=d.live,
                faults=d.faulty,
                proven_partitions=d.proven_partitions,
                proven_this_period=d.submitted,
                current=d.index == current.index,
            )
        )
    if args.json:
        print_json(
            [
                {
                    "deadline": d.index,
                    "open_epoch": r.open_epoch if r else None,
                    "open": r.open_time.isoformat() if r else None,
                    "partitions": d.partitions,
                    "sectors": d.live,
                    "faults": d.faulty,
                    "proven_partitions": d.proven_partitions,
                    "current": r.current if r else None,
                    "active": d.active,
                    "recovering": d.recovering if cp.chain else None,
                    "curio_scheduled": d.scheduled,
                    "curio_computed": d.computed,
                    "curio_submitted": d.submitted,
                    "curio_recoveries_declared": d.recoveries_declared,
                }
                for d, r in zip(m.deadlines, rows, strict=True)
            ]
        )
        return 0
    cells = [
        (
            [
                str(d.index),
                r.open_time.astimezone().strftime("%H:%M:%S") if r else "-",
                str(d.partitions),
                f"{d.live} ({d.faulty})",
                str(d.proven_partitions),
            ],
            r.current if r else False,
        )
        for d, r in zip(m.deadlines, rows, strict=True)
    ]
    print(format_deadline_table(m.address, cells))
    tail = _curio_work(m)[:1] + _not_known(cp)
    if current is None:
        tail.insert(0, "open times need the chain head; sectors and faults as Curio last recorded")
    print("\n".join(["", *tail]))
    return 0
