"""One sector, drilled into: the pipeline's row and the chain's side by side (with what
disagrees), every attempt of its stage tasks, where its files are, why its pending stages wait,
and whether resuming it is safe.

Read on demand for the one sector whose view is open (a few statements, each on a primary key
or an index: the pipeline row, ``sectors_meta``, ``chain_sectors``, ``sector_location``, the
history of its own task ids), never for a list. On a Curio cluster the same view comes from
Curio's tables (``sectors_sdr_pipeline``, ``sectors_meta``, ``sector_location``,
``storage_path``, ``harmony_task_history``); its chain side is the Lotus node's, which the
snapshot already carries (the sealing pane's "On Chain"), so ``chain`` is None there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.storage import SectorFileType, find_sector, format_types, get_path

from .pipeline import TASK_COLUMNS
from .why import sector_why

if TYPE_CHECKING:
    from engine.harmonydb import DB

    from .waits import Wait

__all__ = [
    "ChainSide",
    "Comparison",
    "FileSpot",
    "SectorDetail",
    "StageAttempt",
    "read_sector_detail",
]


@dataclass(frozen=True)
class ChainSide:
    """The devnet chain's record of the sector (``chain_sectors``)."""

    state: str
    sealed_cid: str
    unsealed_cid: str
    precommit_epoch: int
    activation_epoch: int | None
    expiration_epoch: int | None
    deadline: int | None
    partition: int | None


@dataclass(frozen=True)
class Comparison:
    """One fact as the database and the chain hold it; ``agrees`` is False on a mismatch
    (None when only one side can say)."""

    what: str
    db: str
    chain: str
    agrees: bool | None


@dataclass(frozen=True)
class FileSpot:
    """A storage path holding some of the sector's files (``harmony storage find``'s block)."""

    storage_id: str
    types: str
    primary: str
    can_seal: bool
    can_store: bool
    #: the path's directory on this host, None when not attached here ("Remote")
    local_path: str | None
    urls: tuple[str, ...]


@dataclass(frozen=True)
class StageAttempt:
    """One finished attempt of one of the sector's stage tasks."""

    task_id: int
    name: str
    work_start: datetime
    work_end: datetime
    outcome: str
    host: str
    err: str | None

    @property
    def seconds(self) -> float:
        return (self.work_end - self.work_start).total_seconds()


@dataclass(frozen=True)
class SectorDetail:
    sp_id: int
    sector_number: int
    #: the sealing pipeline's row exists
    in_pipeline: bool
    #: the sector is in ``sectors_meta`` (sealed and on chain, as the database knows it)
    in_meta: bool
    #: the devnet chain's record (None: not on chain, or a Curio cluster: see ``foreign``)
    chain: ChainSide | None
    comparisons: tuple[Comparison, ...]
    files: tuple[FileSpot, ...]
    attempts: tuple[StageAttempt, ...]
    waits: tuple[Wait, ...]
    #: None when resuming is safe now; else why not (not failed, PreCommit sent, Curio)
    resume_refusal: str | None
    foreign: bool = False

    @property
    def mismatches(self) -> tuple[Comparison, ...]:
        return tuple(c for c in self.comparisons if c.agrees is False)


PIPELINE = (
    """
SELECT p.failed, p.failed_reason, p.failed_reason_msg, p.after_sdr, p.after_tree_d,
       p.after_tree_r, p.after_precommit_msg, p.after_precommit_msg_success, p.after_porep,
       p.after_finalize, p.after_move_storage, p.after_commit_msg, p.after_commit_msg_success,
       p.tree_d_cid, p.tree_r_cid, p.precommit_msg_cid, p.commit_msg_cid,
       """
    + ", ".join(f"p.{c}" for c in TASK_COLUMNS)
    + """
  FROM sectors_sdr_pipeline p WHERE p.sp_id = $1 AND p.sector_number = $2
"""
)

META = """
SELECT cur_sealed_cid, cur_unsealed_cid, expiration_epoch, deadline, "partition", is_live,
       is_faulty
  FROM sectors_meta WHERE sp_id = $1 AND sector_num = $2
"""

CHAIN = """
SELECT state, sealed_cid, unsealed_cid, precommit_epoch, activation_epoch, expiration_epoch,
       deadline, "partition"
  FROM chain_sectors WHERE sp_id = $1 AND sector_number = $2
"""

#: the attempts of the sector's stage tasks, oldest first: those its event log links (every
#: attempt, also of tasks a resume replaced) and those of its current task ids (the history's
#: primary key and task_id index); the columns Curio's table has too (``result``, no outcome)
ATTEMPTS = """
SELECT task_id, name, work_start, work_end, result, err, completed_by_host_and_port AS host
  FROM harmony_task_history
 WHERE task_id = ANY($1::bigint[])
    OR id = ANY(coalesce((SELECT task_history_ids FROM sectors_pipeline_events
                           WHERE sp_id = $2 AND sector_number = $3), '{}'::bigint[]))
 ORDER BY work_start, id
 LIMIT 500
"""

#: Curio's: its event log has a row per attempt (20240814-pipeline-task-events.sql); its
#: history is looked up by primary key and the (task_id, result) index
CURIO_ATTEMPTS = """
SELECT task_id, name, work_start, work_end, result, err, completed_by_host_and_port AS host
  FROM harmony_task_history
 WHERE task_id = ANY($1::bigint[])
    OR id IN (SELECT task_history_id FROM sectors_pipeline_events
               WHERE sp_id = $2 AND sector_number = $3)
 ORDER BY work_start, id
 LIMIT 500
"""

#: Curio's sector_location with its paths (no storage_path_hosts there)
CURIO_FILES = """
SELECT l.sector_filetype, l.storage_id, l.is_primary, p.urls, p.can_seal, p.can_store
  FROM sector_location l JOIN storage_path p ON p.storage_id = l.storage_id
 WHERE l.miner_id = $1 AND l.sector_num = $2
 ORDER BY l.storage_id, l.sector_filetype
"""


def _db_state(pipe: Any, meta: Any) -> str:
    """The sector's state as the database holds it, in the chain's words where they apply."""
    if meta is not None:
        if not meta["is_live"]:
            return "terminated"
        return "faulty" if meta["is_faulty"] else "active"
    if pipe is None:
        return "unknown"
    if pipe["failed"]:
        return f"failed ({pipe['failed_reason']})"
    if pipe["after_commit_msg_success"]:
        return "active"
    if pipe["after_precommit_msg_success"]:
        return "precommitted"
    if pipe["after_precommit_msg"]:
        return "precommit sent"
    return "sealing"


def _expected_on_chain(pipe: Any, meta: Any) -> set[str] | None:
    """The chain states the database's record allows (None: either, e.g. a message in flight)."""
    if meta is not None:
        if not meta["is_live"]:
            return {"terminated"}
        return {"faulty", "recovering"} if meta["is_faulty"] else {"active", "recovering"}
    if pipe is None:
        return None
    if pipe["after_commit_msg_success"]:
        return {"active", "faulty", "recovering"}
    if pipe["after_precommit_msg_success"]:
        # the ProveCommit may have landed before the poller recorded it
        return {"precommitted", "active"}
    if not pipe["after_precommit_msg"]:
        return {"none"}
    return None


def _compare(
    pipe: Any, meta: Any, chain: ChainSide | None, *, foreign: bool = False
) -> list[Comparison]:
    """On a Curio cluster the chain side is not read here: the database's side alone."""
    out: list[Comparison] = []
    expected = None if foreign else _expected_on_chain(pipe, meta)
    on_chain = chain.state if chain is not None else "none"
    out.append(
        Comparison(
            "state",
            _db_state(pipe, meta),
            "-" if foreign else "not on chain" if chain is None else chain.state,
            None if expected is None else on_chain in expected,
        )
    )
    sealed = (meta["cur_sealed_cid"] if meta is not None else None) or (
        pipe["tree_r_cid"] if pipe is not None else None
    )
    unsealed = (meta["cur_unsealed_cid"] if meta is not None else None) or (
        pipe["tree_d_cid"] if pipe is not None else None
    )
    for what, mine, theirs in (
        ("CommR (sealed CID)", sealed, chain.sealed_cid if chain else None),
        ("CommD (unsealed CID)", unsealed, chain.unsealed_cid if chain else None),
    ):
        out.append(
            Comparison(
                what,
                mine or "-",
                theirs or "-",
                None if not (mine and theirs) else mine == theirs,
            )
        )
    if meta is not None or (chain is not None and chain.deadline is not None):
        for what, key, theirs in (
            ("deadline", "deadline", chain.deadline if chain else None),
            ("partition", "partition", chain.partition if chain else None),
            ("expiration", "expiration_epoch", chain.expiration_epoch if chain else None),
        ):
            mine = meta[key] if meta is not None else None
            out.append(
                Comparison(
                    what,
                    "-" if mine is None else str(mine),
                    "-" if theirs is None else str(theirs),
                    None if mine is None or theirs is None else int(mine) == int(theirs),
                )
            )
    return out


async def _files(db: DB, sp_id: int, sector: int) -> list[FileSpot]:
    """Grouped per path as ``harmony storage find`` groups them (its engine call, find_sector,
    on our own cluster; Curio's two tables on Curio's)."""
    spots: dict[str, dict[str, Any]] = {}
    if db.foreign:
        for r in await db.select(CURIO_FILES, sp_id, sector):
            e = spots.setdefault(
                r["storage_id"],
                {
                    "types": SectorFileType(0),
                    "primary": SectorFileType(0),
                    "can_seal": r["can_seal"],
                    "can_store": r["can_store"],
                    "local_path": None,
                    "urls": tuple(u for u in (r["urls"] or "").split(",") if u),
                },
            )
            e["types"] |= SectorFileType(r["sector_filetype"])
            if r["is_primary"]:
                e["primary"] |= SectorFileType(r["sector_filetype"])
    else:
        for loc in await find_sector(db, sp_id, sector):
            e = spots.get(loc.storage_id)
            if e is None:
                row = await get_path(db, loc.storage_id)
                e = spots[loc.storage_id] = {
                    "types": SectorFileType(0),
                    "primary": SectorFileType(0),
                    "can_seal": row.can_seal,
                    "can_store": row.can_store,
                    "local_path": str(loc.local_path.parent.parent) if loc.local_path else None,
                    "urls": tuple(loc.urls),
                }
            e["types"] |= loc.file_type
            if loc.is_primary:
                e["primary"] |= loc.file_type
    return [
        FileSpot(
            storage_id=sid,
            types=format_types(e["types"], ", "),
            primary=format_types(e["primary"], ", "),
            can_seal=bool(e["can_seal"]),
            can_store=bool(e["can_store"]),
            local_path=e["local_path"],
            urls=e["urls"],
        )
        for sid, e in sorted(spots.items())
    ]


def _resume_refusal(pipe: Any, failed_tasks: bool, foreign: bool) -> str | None:
    """The same conditions :func:`engine.tasks.seal.pipeline.resume_sector` checks (it checks
    again, in its transaction, when asked)."""
    if foreign:
        return "read-only on a Curio cluster (resume it with Curio's own tools)"
    if pipe is None:
        return "not in the sealing pipeline"
    if not pipe["failed"] and not failed_tasks:
        return "it has not failed"
    if pipe["after_precommit_msg"]:
        return f"its PreCommit message {pipe['precommit_msg_cid']} was already sent"
    return None


async def read_sector_detail(db: DB, sp_id: int, sector: int) -> SectorDetail:
    """Everything the sector view shows beyond the snapshot's strip (see the module doc)."""
    foreign = db.foreign
    pipe = await db.query_row(PIPELINE, sp_id, sector)
    meta = await db.query_row(META, sp_id, sector)
    chain: ChainSide | None = None
    if not foreign:
        row = await db.query_row(CHAIN, sp_id, sector)
        if row is not None:
            chain = ChainSide(**dict(row))
    # each stage's task once (TreeRC's one id stands in two columns)
    ids = list(
        dict.fromkeys(
            int(pipe[c]) for c in TASK_COLUMNS if pipe is not None and pipe[c] is not None
        )
    )
    attempts = [
        StageAttempt(
            task_id=int(r["task_id"]),
            name=r["name"],
            work_start=r["work_start"],
            work_end=r["work_end"],
            outcome="done" if r["result"] else "failed",
            host=r["host"],
            err=r["err"] or None,
        )
        for r in await db.select(CURIO_ATTEMPTS if foreign else ATTEMPTS, ids, sp_id, sector)
    ]
    failed_tasks = False
    waits: list[Wait] = []
    if ids:
        if not foreign:
            failed_tasks = bool(
                await db.query_value(
                    "SELECT count(*) FROM harmony_task WHERE id = ANY($1::bigint[]) "
                    "AND failed_at IS NOT NULL",
                    ids,
                )
            )
        waits = await sector_why(db, sp_id, sector)
    return SectorDetail(
        sp_id=sp_id,
        sector_number=sector,
        in_pipeline=pipe is not None,
        in_meta=meta is not None,
        chain=chain,
        comparisons=tuple(_compare(pipe, meta, chain, foreign=foreign)),
        files=tuple(await _files(db, sp_id, sector)),
        attempts=tuple(attempts),
        waits=tuple(waits),
        resume_refusal=_resume_refusal(pipe, failed_tasks, foreign),
        foreign=foreign,
    )
