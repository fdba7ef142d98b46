"""The message pool: a sent message lands ``message_delay_epochs`` later with a receipt.

Sending writes the message and Curio's ``message_waits`` row (what the sealing pipeline and the
PoSt pane watch) in the caller's transaction, so "sent" and "recorded as sent" never disagree.
The chain-advance task executes due messages in epoch order (:mod:`.actor`) and fills in the
receipt: exit code 0, or a Filecoin exit code with the reason.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from .cids import object_cid

if TYPE_CHECKING:
    from engine.harmonydb import Tx

    from .config import ChainConfig

__all__ = [
    "DECLARE_FAULTS",
    "DECLARE_FAULTS_RECOVERED",
    "METHODS",
    "PRE_COMMIT_SECTOR",
    "PROVE_COMMIT_SECTOR",
    "SUBMIT_WINDOWED_POST",
    "ExitCode",
    "SentMessage",
    "send_message",
]

PRE_COMMIT_SECTOR = "PreCommitSector"
PROVE_COMMIT_SECTOR = "ProveCommitSector"
SUBMIT_WINDOWED_POST = "SubmitWindowedPoSt"
DECLARE_FAULTS = "DeclareFaults"
DECLARE_FAULTS_RECOVERED = "DeclareFaultsRecovered"
METHODS = (
    PRE_COMMIT_SECTOR,
    PROVE_COMMIT_SECTOR,
    SUBMIT_WINDOWED_POST,
    DECLARE_FAULTS,
    DECLARE_FAULTS_RECOVERED,
)


class ExitCode(IntEnum):
    """The Filecoin exit codes a miner actor returns."""

    OK = 0
    ILLEGAL_ARGUMENT = 16
    NOT_FOUND = 17
    FORBIDDEN = 18
    ILLEGAL_STATE = 20


@dataclass(frozen=True)
class SentMessage:
    cid: str
    submitted_epoch: int
    land_epoch: int


async def send_message(
    tx: Tx,
    config: ChainConfig,
    sp_id: int,
    method: str,
    params: dict[str, Any],
    *,
    epoch: int,
    task_id: int | None = None,
) -> SentMessage:
    """Put a message in the pool at ``epoch``; it executes at ``epoch + message_delay_epochs``
    (or the first epoch the chain has not executed yet, if that is later).

    Written in ``tx`` (commit it to send; run ``tx`` with ``DB.transaction``, which retries
    the 40001 a concurrent advance or send can cause under REPEATABLE READ or SERIALIZABLE);
    wakes the chain-advance of every node (NOTIFY; without it they poll, see
    :class:`~engine.chain.service.ChainService`). ``task_id``: the sending task, whose
    machine is recorded as the waiter.
    """
    if method not in METHODS:
        raise ValueError(f"unknown miner method {method!r}")
    # Serialise with the chain advance, so a message is never given a landing epoch the chain
    # has already executed, and an advance never misses a message committed while it waited.
    # The advance holds chain_config FOR UPDATE, a send FOR SHARE. Under READ COMMITTED that
    # is enough: the statements after a wait see what the holder committed. Under REPEATABLE
    # READ and SERIALIZABLE (YugabyteDB's Snapshot and Serializable) the waiter's snapshot
    # predates the holder and a lock that was only held is granted silently, so both also
    # write the chain_turn row (the advance by a trigger on its tipset insert,
    # sql/20261203-91-chain-turn.sql): the later writer fails with 40001 and its transaction
    # runs again on a fresh snapshot (``DB.transaction`` retries it). Overlapping sends queue
    # on that row too, each until the other commits (a send's transaction is short). The
    # head is read after both, by a statement of its own.
    await tx.query_value("SELECT id FROM chain_config WHERE id = 1 FOR SHARE")
    await tx.exec("UPDATE chain_turn SET turns = turns + 1 WHERE id = 1")
    head = await tx.query_value("SELECT COALESCE(max(epoch), -1) FROM chain_tipsets")
    land = max(epoch + config.profile.message_delay_epochs, (head if head is not None else -1) + 1)
    cid = object_cid(
        "message",
        {"to": f"t0{sp_id}", "method": method, "params": params, "nonce": secrets.token_hex(8)},
    )
    await tx.exec(
        "INSERT INTO chain_messages (cid, sp_id, method, params, submitted_epoch, land_epoch) "
        "VALUES ($1, $2, $3, $4::jsonb, $5, $6)",
        cid,
        sp_id,
        method,
        json.dumps(params),
        epoch,
        land,
    )
    await tx.exec(
        "INSERT INTO message_waits (signed_message_cid, waiter_machine_id) "
        "VALUES ($1, (SELECT owner_id FROM harmony_task WHERE id = $2))",
        cid,
        task_id,
    )
    tx.notify("chain", f"m:{land}")
    return SentMessage(cid, epoch, land)
