"""Sectors as an operator sees them (``sectors list`` / ``sectors status``): the pipeline row
joined with the chain's view, with one state name per sector."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .porep import SEED_CONFIDENCE

if TYPE_CHECKING:
    from engine.harmonydb import DB

__all__ = ["SectorEvent", "SectorView", "list_sectors", "sector_events", "sector_state"]

_SECTORS = """
SELECT COALESCE(p.sp_id, c.sp_id) AS sp_id,
       COALESCE(p.sector_number, c.sector_number) AS sector_number,
       p.create_time, p.reg_seal_proof, p.ticket_epoch, p.ticket_value, p.seed_epoch,
       p.seed_value, p.tree_d_cid, p.tree_r_cid, p.precommit_msg_cid, p.commit_msg_cid,
       p.after_sdr, p.after_tree_d, p.after_tree_r, p.after_precommit_msg,
       p.after_precommit_msg_success, p.after_porep, p.after_finalize, p.after_move_storage,
       p.after_commit_msg, p.after_commit_msg_success,
       p.failed, p.failed_at, p.failed_reason, p.failed_reason_msg,
       CASE WHEN c.termination = 'expired' THEN 'expired' ELSE c.state END AS chain_state,
       c.expiration_epoch, c.deadline, c."partition",
       c.activation_epoch, c.precommit_epoch
  FROM sectors_sdr_pipeline p
  FULL OUTER JOIN chain_sectors c ON c.sp_id = p.sp_id AND c.sector_number = p.sector_number
 WHERE ($1::bigint IS NULL OR COALESCE(p.sp_id, c.sp_id) = $1)
   AND ($2::bigint IS NULL OR COALESCE(p.sector_number, c.sector_number) = $2)
 ORDER BY 1, 2
"""

CHAIN_STATES = {
    "active": "Proving",
    "faulty": "Faulty",
    "recovering": "Recovering",
    "terminated": "Terminated",
    # terminated at its expiration epoch (chain_sectors.termination), see engine.chain.expiration
    "expired": "Expired",
}


def sector_state(row: dict[str, Any], epoch: int) -> str:
    """Where the sector is: a pipeline stage (Curio's stage names), or its chain state."""
    if row.get("failed"):
        return "Failed"
    if row.get("after_sdr") is None:  # on chain without a pipeline row
        return CHAIN_STATES.get(row["chain_state"], str(row["chain_state"]))
    if not row["after_sdr"]:
        return "SDR"
    if not row["after_tree_d"]:
        return "TreeD"
    if not row["after_tree_r"]:
        return "TreeRC"
    if not row["after_precommit_msg"]:
        return "PreCommitMsg"
    if not row["after_precommit_msg_success"]:
        return "PreCommitWait"
    if not row["after_porep"]:
        return "WaitSeed" if epoch < row["seed_epoch"] + SEED_CONFIDENCE else "PoRep"
    if not row["after_commit_msg"]:
        return "CommitMsg"
    if not row["after_commit_msg_success"]:
        return "CommitWait"
    if not row["after_finalize"]:
        return "Finalize"
    if not row["after_move_storage"]:
        return "MoveStorage"
    return CHAIN_STATES.get(row["chain_state"], "Sealed")


@dataclass(frozen=True)
class SectorView:
    sp_id: int
    sector_number: int
    state: str
    on_chain: bool
    active: bool
    chain_state: str | None
    expiration_epoch: int | None
    deadline: int | None
    partition: int | None
    failed_reason: str
    failed_reason_msg: str
    row: dict[str, Any]

    @property
    def miner(self) -> str:
        return f"t0{self.sp_id}"


async def list_sectors(
    db: DB, epoch: int, *, sp_id: int | None = None, number: int | None = None
) -> list[SectorView]:
    out = []
    for row in await db.select(_SECTORS, sp_id, number):
        chain_state = row["chain_state"]
        out.append(
            SectorView(
                sp_id=row["sp_id"],
                sector_number=row["sector_number"],
                state=sector_state(row, epoch),
                on_chain=chain_state not in (None, "precommitted"),
                active=chain_state == "active",
                chain_state=chain_state,
                expiration_epoch=row["expiration_epoch"],
                deadline=row["deadline"],
                partition=row["partition"],
                failed_reason=row["failed_reason"] or "",
                failed_reason_msg=row["failed_reason_msg"] or "",
                row=row,
            )
        )
    return out


@dataclass(frozen=True)
class SectorEvent:
    id: int
    task_id: int
    name: str
    work_start: datetime
    work_end: datetime
    outcome: str | None
    err: str | None
    host: str


async def sector_events(db: DB, sp_id: int, number: int) -> list[SectorEvent]:
    """The sector's task attempts, oldest first (Curio's per-sector event log)."""
    return await db.select(
        "SELECT h.id, h.task_id, h.name, h.work_start, h.work_end, h.outcome, h.err, "
        "h.completed_by_host_and_port AS host "
        "FROM sectors_pipeline_events e CROSS JOIN LATERAL unnest(e.task_history_ids) AS i(id) "
        "JOIN harmony_task_history h ON h.id = i.id "
        "WHERE e.sp_id = $1 AND e.sector_number = $2 ORDER BY h.id",
        sp_id,
        number,
        into=SectorEvent,
    )
