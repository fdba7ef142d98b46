"""The miner actor: what each message does when it lands, and the end-of-deadline cron.

Sector states (``chain_sectors.state``): ``precommitted`` → ``active`` (ProveCommit) →
``faulty`` (skipped in a PoSt, declared, or its partition missed its deadline) → ``recovering``
(DeclareFaultsRecovered) → ``active`` again once proven; ``terminated`` after 42 proving
periods of continuous fault (``termination = 'faulty'``) or at its expiration
(``termination = 'expired'``, see :mod:`.expiration`). ``sectors_meta`` (Curio's catalogue)
mirrors ``is_faulty`` (faulty or recovering, as the chain's fault bitfield) and ``is_live`` (not
terminated).

Each method validates like builtin-actors and fails the whole message with a Filecoin exit code
and a reason; a failed message changes nothing.

Proofs are verified in a thread: the chain advances inside the console's process too, and a
batch of PoRep checks (a few ms of pure-Python hashing per sector) must not stall its event
loop. A thread, not the worker processes, because those may be busy sealing for seconds and the
chain must not wait behind them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.proofs import (
    WINDOW_POST_CHALLENGES,
    InvalidCID,
    PoRepProof,
    ProofError,
    SectorPostProof,
    clear_top_bits,
    porep_failure,
    prover_id,
    sealed_cid_to_commitment,
    sector_proof_failure,
    unsealed_cid_to_commitment,
)

from .assignment import DeadlineLoad, assign_deadlines
from .beacon import Dst, draw_randomness, miner_entropy
from .deadlines import new_deadline_info
from .expiration import ExpirationInvalid, choose_expiration, sector_policy, validate_expiration
from .messages import (
    DECLARE_FAULTS,
    DECLARE_FAULTS_RECOVERED,
    PRE_COMMIT_SECTOR,
    PROVE_COMMIT_SECTOR,
    SUBMIT_WINDOWED_POST,
    ExitCode,
)
from .miners import Miner

if TYPE_CHECKING:
    from engine.harmonydb import Tx

    from .config import ChainConfig

__all__ = [
    "LIVE_STATES",
    "PROVABLE_STATES",
    "Execution",
    "Receipt",
    "apply_message",
    "deadline_cron",
    "interactive_randomness",
    "post_randomness",
    "seal_randomness",
    "sync_sectors_meta",
]

log = logging.getLogger(__name__)

#: States of sectors that count toward a deadline (not terminated, past PreCommit).
LIVE_STATES = ("active", "faulty", "recovering")
#: States a WindowPoSt must prove: (live − faulty) ∪ recovering.
PROVABLE_STATES = ("active", "recovering")


@dataclass(frozen=True)
class Receipt:
    exit_code: int
    text: str

    @property
    def ok(self) -> bool:
        return self.exit_code == ExitCode.OK


class MessageFailed(Exception):
    def __init__(self, code: ExitCode, text: str) -> None:
        super().__init__(text)
        self.code = code


@dataclass
class Execution:
    """What applying messages needs: the transaction, the chain, the miners, beacons."""

    tx: Tx
    config: ChainConfig
    miners: dict[int, Miner]
    beacon: Callable[[int], Awaitable[bytes]]
    #: sectors whose state changed, per miner (their sectors_meta rows are re-synced)
    touched: dict[int, set[int]] = field(default_factory=dict)

    def touch(self, sp_id: int, numbers: list[int]) -> None:
        self.touched.setdefault(sp_id, set()).update(numbers)


def seal_randomness(beacon: bytes, epoch: int, sp_id: int) -> bytes:
    """The sealing ticket drawn at ``epoch`` (DST SealRandomness)."""
    return draw_randomness(beacon, Dst.SEAL_RANDOMNESS, epoch, miner_entropy(sp_id))


def interactive_randomness(beacon: bytes, epoch: int, sp_id: int) -> bytes:
    """The PoRep seed drawn at ``epoch`` (DST InteractiveSealChallengeSeed)."""
    return draw_randomness(beacon, Dst.INTERACTIVE_SEAL_CHALLENGE_SEED, epoch, miner_entropy(sp_id))


def post_randomness(beacon: bytes, epoch: int, sp_id: int) -> bytes:
    """WindowPoSt challenge randomness at the deadline's Challenge epoch, top 2 bits cleared."""
    return clear_top_bits(
        draw_randomness(beacon, Dst.WINDOWED_POST_CHALLENGE_SEED, epoch, miner_entropy(sp_id))
    )


async def apply_message(ex: Execution, msg: dict[str, Any], epoch: int) -> Receipt:
    """Execute one message at ``epoch``; a failure leaves the chain unchanged."""
    method = msg["method"]
    params = msg["params"]
    if isinstance(params, str):
        params = json.loads(params)
    handler = _METHODS.get(method)
    miner = ex.miners.get(msg["sp_id"])
    if handler is None:
        return Receipt(ExitCode.ILLEGAL_ARGUMENT, f"unknown method {method}")
    if miner is None:
        return Receipt(ExitCode.NOT_FOUND, f"actor t0{msg['sp_id']} not found")
    await ex.tx.exec("SAVEPOINT apply_message")
    try:
        text = await handler(ex, miner, params, epoch, msg["cid"])
    except MessageFailed as failed:
        await ex.tx.exec("ROLLBACK TO SAVEPOINT apply_message")
        return Receipt(failed.code, str(failed))
    except (KeyError, TypeError, ValueError, ProofError) as exc:
        await ex.tx.exec("ROLLBACK TO SAVEPOINT apply_message")
        return Receipt(ExitCode.ILLEGAL_ARGUMENT, f"malformed parameters: {exc}")
    await ex.tx.exec("RELEASE SAVEPOINT apply_message")
    return Receipt(ExitCode.OK, text)


# ----------------------------------------------------------------------------- PreCommit


async def _pre_commit(
    ex: Execution, miner: Miner, params: dict[str, Any], epoch: int, cid: str
) -> str:
    sectors = params["sectors"]
    if not sectors:
        raise MessageFailed(ExitCode.ILLEGAL_ARGUMENT, "no sectors to precommit")
    numbers, sealed, unsealed, rand_epochs, expirations = [], [], [], [], []
    for s in sectors:
        number = int(s["sector_number"])
        rand_epoch = int(s["seal_rand_epoch"])
        if rand_epoch >= epoch:
            raise MessageFailed(
                ExitCode.ILLEGAL_ARGUMENT,
                f"sector {number}: seal challenge epoch {rand_epoch} must be before {epoch}",
            )
        if epoch - rand_epoch > ex.config.max_ticket_age:
            raise MessageFailed(
                ExitCode.ILLEGAL_ARGUMENT,
                f"sector {number}: ticket epoch {rand_epoch} is too old at {epoch} "
                f"(at most {ex.config.max_ticket_age} epochs)",
            )
        try:
            sealed_cid_to_commitment(s["sealed_cid"])
            unsealed_cid_to_commitment(s["unsealed_cid"])
        except InvalidCID as exc:
            raise MessageFailed(ExitCode.ILLEGAL_ARGUMENT, f"sector {number}: {exc}") from None
        numbers.append(number)
        sealed.append(s["sealed_cid"])
        unsealed.append(s["unsealed_cid"])
        rand_epochs.append(rand_epoch)
        given = s.get("expiration")
        expiration = (
            # a hand-made message without one gets what Curio would have sent
            choose_expiration(ex.config.profile, rand_epoch, None) if given is None else int(given)
        )
        try:
            validate_expiration(ex.config.profile, epoch, expiration)
        except ExpirationInvalid as exc:
            raise MessageFailed(ExitCode.ILLEGAL_ARGUMENT, f"sector {number}: {exc}") from None
        expirations.append(expiration)
    if len(set(numbers)) != len(numbers):
        raise MessageFailed(ExitCode.ILLEGAL_ARGUMENT, "duplicate sector numbers")
    taken = await ex.tx.select(
        "SELECT sector_number FROM chain_sectors WHERE sp_id = $1 "
        "AND sector_number = ANY($2::bigint[]) ORDER BY 1",
        miner.sp_id,
        numbers,
    )
    if taken:
        listed = ", ".join(str(r["sector_number"]) for r in taken)
        raise MessageFailed(ExitCode.ILLEGAL_ARGUMENT, f"sector number(s) {listed} already used")
    await ex.tx.exec(
        "INSERT INTO chain_sectors (sp_id, sector_number, state, sealed_cid, unsealed_cid, "
        "seal_rand_epoch, precommit_epoch, expiration_epoch) "
        "SELECT $1, n, 'precommitted', sc, uc, re, $2, ex FROM unnest($3::bigint[], "
        "$4::text[], $5::text[], $6::bigint[], $7::bigint[]) AS x(n, sc, uc, re, ex)",
        miner.sp_id,
        epoch,
        numbers,
        sealed,
        unsealed,
        rand_epochs,
        expirations,
    )
    return f"precommitted {len(numbers)} sector(s)"


# ----------------------------------------------------------------------------- ProveCommit


async def _prove_commit(
    ex: Execution, miner: Miner, params: dict[str, Any], epoch: int, cid: str
) -> str:
    items = params["sectors"]
    if not items:
        raise MessageFailed(ExitCode.ILLEGAL_ARGUMENT, "no sectors to prove")
    numbers = [int(i["sector_number"]) for i in items]
    rows = {
        r["sector_number"]: r
        for r in await ex.tx.select(
            "SELECT sector_number, state, sealed_cid, unsealed_cid, seal_rand_epoch, "
            "precommit_epoch FROM chain_sectors WHERE sp_id = $1 "
            "AND sector_number = ANY($2::bigint[])",
            miner.sp_id,
            numbers,
        )
    }
    delay = ex.config.profile.precommit_challenge_delay
    max_prove_commit = sector_policy(ex.config.profile).max_prove_commit
    pid = prover_id(miner.sp_id)
    for item, number in zip(items, numbers, strict=True):
        row = rows.get(number)
        if row is None:
            raise MessageFailed(ExitCode.NOT_FOUND, f"no precommitted sector {number}")
        if row["state"] != "precommitted":
            raise MessageFailed(
                ExitCode.ILLEGAL_STATE, f"sector {number} is already {row['state']}"
            )
        expires = row["precommit_epoch"] + max_prove_commit
        if epoch > expires:
            raise MessageFailed(
                ExitCode.NOT_FOUND,
                f"the PreCommit of sector {number} expired at epoch {expires} (at most "
                f"{max_prove_commit} epochs before its ProveCommit)",
            )
        seed_epoch = row["precommit_epoch"] + delay
        if epoch <= seed_epoch:
            raise MessageFailed(
                ExitCode.FORBIDDEN,
                f"too early to prove sector {number}: its seed is drawn at epoch {seed_epoch}",
            )
        ticket_epoch = row["seal_rand_epoch"]
        ticket = seal_randomness(await ex.beacon(ticket_epoch), ticket_epoch, miner.sp_id)
        seed = interactive_randomness(await ex.beacon(seed_epoch), seed_epoch, miner.sp_id)
        try:
            proof = PoRepProof.from_bytes(base64.b64decode(item["proof"], validate=True))
            reason = await asyncio.to_thread(
                porep_failure,
                sector_size=miner.sector_size,
                prover_id=pid,
                sector_number=number,
                ticket=ticket,
                comm_d=unsealed_cid_to_commitment(row["unsealed_cid"]),
                comm_r=sealed_cid_to_commitment(row["sealed_cid"]),
                seed=seed,
                proof=proof,
            )
        except (ProofError, binascii.Error, ValueError) as exc:
            reason = str(exc)
        if reason is not None:
            raise MessageFailed(
                ExitCode.ILLEGAL_ARGUMENT, f"invalid PoRep proof for sector {number}: {reason}"
            )
    loads = {
        r["deadline"]: DeadlineLoad(r["deadline"], r["live"], r["total"])
        for r in await ex.tx.select(
            "SELECT deadline, count(*) FILTER (WHERE state <> 'terminated') AS live, "
            "count(*) AS total FROM chain_sectors WHERE sp_id = $1 AND deadline IS NOT NULL "
            "GROUP BY deadline",
            miner.sp_id,
        )
    }
    period_start = miner.deadline(ex.config, epoch).period_start
    placed = assign_deadlines(
        ex.config.profile, miner.partition_size, period_start, epoch, loads, len(numbers)
    )
    ordered = sorted(numbers)
    await ex.tx.exec(
        "UPDATE chain_sectors s SET state = 'active', activation_epoch = $2, "
        'deadline = x.dl, "partition" = x.part '
        "FROM unnest($3::bigint[], $4::int[], $5::int[]) AS x(n, dl, part) "
        "WHERE s.sp_id = $1 AND s.sector_number = x.n",
        miner.sp_id,
        epoch,
        ordered,
        [d for d, _ in placed],
        [p for _, p in placed],
    )
    ex.touch(miner.sp_id, ordered)
    where = ", ".join(f"{n}→{d}/{p}" for n, (d, p) in zip(ordered, placed, strict=True))
    return f"activated {len(ordered)} sector(s) (sector→deadline/partition: {where})"


# ----------------------------------------------------------------------------- WindowPoSt


async def _submit_post(
    ex: Execution, miner: Miner, params: dict[str, Any], epoch: int, cid: str
) -> str:
    target = int(params["deadline"])
    current = miner.deadline(ex.config, epoch)
    if target != current.index:
        wanted_start = params.get("proving_period_start")
        if wanted_start is not None:
            wanted = new_deadline_info(ex.config.profile, int(wanted_start), target, epoch)
            if epoch >= wanted.close:
                raise MessageFailed(
                    ExitCode.ILLEGAL_ARGUMENT,
                    f"landed at epoch {epoch}, after deadline {target} closed at epoch "
                    f"{wanted.close}",
                )
        raise MessageFailed(
            ExitCode.ILLEGAL_ARGUMENT,
            f"invalid deadline {target} at epoch {epoch}, expected {current.index}",
        )
    partitions = params["partitions"]
    if not partitions:
        raise MessageFailed(ExitCode.ILLEGAL_ARGUMENT, "no partitions")
    randomness = post_randomness(await ex.beacon(current.challenge), current.challenge, miner.sp_id)
    faulted: list[int] = []
    recovered: list[int] = []
    for part in partitions:
        index = int(part["index"])
        skipped = {int(n) for n in part.get("skipped", [])}
        proven = await ex.tx.query_value(
            "SELECT 1 FROM chain_post_submissions WHERE sp_id = $1 AND proving_period_start = $2 "
            'AND deadline = $3 AND "partition" = $4',
            miner.sp_id,
            current.period_start,
            target,
            index,
        )
        if proven:
            raise MessageFailed(
                ExitCode.ILLEGAL_ARGUMENT, f"partition {index} of deadline {target} already proven"
            )
        rows = await ex.tx.select(
            "SELECT sector_number, state, sealed_cid FROM chain_sectors WHERE sp_id = $1 "
            'AND deadline = $2 AND "partition" = $3 AND state = ANY($4::text[]) '
            "ORDER BY sector_number",
            miner.sp_id,
            target,
            index,
            list(LIVE_STATES),
        )
        if not rows:
            raise MessageFailed(
                ExitCode.ILLEGAL_ARGUMENT, f"deadline {target} has no partition {index}"
            )
        known = {r["sector_number"] for r in rows}
        if not skipped <= known:
            raise MessageFailed(
                ExitCode.ILLEGAL_ARGUMENT,
                f"skipped sectors {sorted(skipped - known)} are not in partition {index}",
            )
        expected = [
            r for r in rows if r["state"] in PROVABLE_STATES and r["sector_number"] not in skipped
        ]
        proofs = [
            SectorPostProof.from_bytes(base64.b64decode(p, validate=True)) for p in part["proofs"]
        ]
        if len(proofs) != len(expected):
            raise MessageFailed(
                ExitCode.ILLEGAL_ARGUMENT,
                f"partition {index}: {len(proofs)} sector proofs for {len(expected)} sectors",
            )
        for row, proof in zip(expected, proofs, strict=True):
            failure = await asyncio.to_thread(
                sector_proof_failure,
                row["sector_number"],
                sealed_cid_to_commitment(row["sealed_cid"]),
                randomness,
                proof,
                miner.sector_size,
                WINDOW_POST_CHALLENGES,
            )
            if failure is not None:
                raise MessageFailed(
                    ExitCode.ILLEGAL_ARGUMENT,
                    f"invalid PoSt proof for sector {row['sector_number']}: {failure}",
                )
        faulted += [
            r["sector_number"]
            for r in rows
            if r["sector_number"] in skipped and r["state"] in PROVABLE_STATES
        ]
        recovered += [r["sector_number"] for r in expected if r["state"] == "recovering"]
        await ex.tx.exec(
            "INSERT INTO chain_post_submissions (sp_id, proving_period_start, deadline, "
            '"partition", landed_epoch, message_cid, skipped_sectors) '
            "VALUES ($1, $2, $3, $4, $5, $6, $7::bigint[])",
            miner.sp_id,
            current.period_start,
            target,
            index,
            epoch,
            cid,
            sorted(skipped),
        )
    if faulted:
        await ex.tx.exec(
            # A recovering sector that fails keeps the epoch its fault began (as in Filecoin,
            # a failed recovery does not restart the fault's max-age clock).
            "UPDATE chain_sectors SET state = 'faulty', "
            "faulty_since = COALESCE(faulty_since, $3) "
            "WHERE sp_id = $1 AND sector_number = ANY($2::bigint[])",
            miner.sp_id,
            faulted,
            epoch,
        )
    if recovered:
        await ex.tx.exec(
            "UPDATE chain_sectors SET state = 'active', faulty_since = NULL "
            "WHERE sp_id = $1 AND sector_number = ANY($2::bigint[])",
            miner.sp_id,
            recovered,
        )
    ex.touch(miner.sp_id, faulted + recovered)
    text = f"proved {len(partitions)} partition(s) of deadline {target}"
    if faulted:
        text += f"; skipped sectors {sorted(faulted)} are now faulty"
    if recovered:
        text += f"; recovered sectors {sorted(recovered)}"
    return text


# ----------------------------------------------------------------------------- faults


async def _declarations(
    ex: Execution, miner: Miner, params: dict[str, Any], epoch: int, what: str
) -> list[tuple[int, int, list[int]]]:
    period_start = miner.deadline(ex.config, epoch).period_start
    out = []
    for decl in params["declarations"]:
        deadline, partition = int(decl["deadline"]), int(decl["partition"])
        numbers = sorted({int(n) for n in decl["sectors"]})
        if not 0 <= deadline < ex.config.profile.wpost_period_deadlines:
            raise MessageFailed(ExitCode.ILLEGAL_ARGUMENT, f"no deadline {deadline}")
        info = new_deadline_info(ex.config.profile, period_start, deadline, epoch)
        info = info.next_not_elapsed()
        if info.fault_cutoff_passed:
            raise MessageFailed(
                ExitCode.FORBIDDEN,
                f"late {what} declaration for deadline {deadline} at epoch {epoch} "
                f"(its fault cutoff was epoch {info.fault_cutoff})",
            )
        found = await ex.tx.select(
            "SELECT sector_number FROM chain_sectors WHERE sp_id = $1 AND deadline = $2 "
            'AND "partition" = $3 AND sector_number = ANY($4::bigint[])',
            miner.sp_id,
            deadline,
            partition,
            numbers,
        )
        missing = sorted(set(numbers) - {r["sector_number"] for r in found})
        if missing:
            raise MessageFailed(
                ExitCode.NOT_FOUND,
                f"sectors {missing} are not in deadline {deadline} partition {partition}",
            )
        out.append((deadline, partition, numbers))
    if not out:
        raise MessageFailed(ExitCode.ILLEGAL_ARGUMENT, f"no {what} declarations")
    return out


async def _declare_faults(
    ex: Execution, miner: Miner, params: dict[str, Any], epoch: int, cid: str
) -> str:
    changed: list[int] = []
    for _, _, numbers in await _declarations(ex, miner, params, epoch, "fault"):
        rows = await ex.tx.select(
            "UPDATE chain_sectors SET state = 'faulty', "
            "faulty_since = COALESCE(faulty_since, $3) WHERE sp_id = $1 "
            "AND sector_number = ANY($2::bigint[]) AND state IN ('active', 'recovering') "
            "RETURNING sector_number",
            miner.sp_id,
            numbers,
            epoch,
        )
        changed += [r["sector_number"] for r in rows]
    ex.touch(miner.sp_id, changed)
    return f"declared {len(changed)} sector(s) faulty"


async def _declare_recoveries(
    ex: Execution, miner: Miner, params: dict[str, Any], epoch: int, cid: str
) -> str:
    changed: list[int] = []
    for _, _, numbers in await _declarations(ex, miner, params, epoch, "recovery"):
        rows = await ex.tx.select(
            "UPDATE chain_sectors SET state = 'recovering' WHERE sp_id = $1 "
            "AND sector_number = ANY($2::bigint[]) AND state = 'faulty' "
            "RETURNING sector_number",
            miner.sp_id,
            numbers,
        )
        changed += [r["sector_number"] for r in rows]
    ex.touch(miner.sp_id, changed)
    return f"declared {len(changed)} sector(s) recovering"


_Handler = Callable[[Execution, Miner, dict[str, Any], int, str], Awaitable[str]]
_METHODS: dict[str, _Handler] = {
    PRE_COMMIT_SECTOR: _pre_commit,
    PROVE_COMMIT_SECTOR: _prove_commit,
    SUBMIT_WINDOWED_POST: _submit_post,
    DECLARE_FAULTS: _declare_faults,
    DECLARE_FAULTS_RECOVERED: _declare_recoveries,
}


# ----------------------------------------------------------------------------- cron

_CRON = """
WITH missed AS (
    UPDATE chain_sectors s SET state = 'faulty', faulty_since = COALESCE(s.faulty_since, $4)
     WHERE s.sp_id = $1 AND s.deadline = $2 AND s.state IN ('active', 'recovering')
       AND NOT EXISTS (SELECT 1 FROM chain_post_submissions p
                        WHERE p.sp_id = s.sp_id AND p.proving_period_start = $3
                          AND p.deadline = s.deadline AND p."partition" = s."partition")
    RETURNING s.sector_number, s."partition"
), missed_events AS (
    -- one event per partition that missed its deadline, at the deadline's close; only sectors
    -- still active or recovering fault, so a cron run again records nothing more
    INSERT INTO cluster_events (at, kind, sp_id, deadline, "partition", message)
    SELECT (SELECT genesis_time + make_interval(secs => $4 * block_time) FROM chain_config),
           'post-missed', $1, $2, m."partition",
           'deadline closed without a WindowPoSt: ' || count(*) || ' sector(s) faulty'
      FROM missed m
     GROUP BY m."partition"
), fault_aged AS (
    UPDATE chain_sectors s SET state = 'terminated', termination = 'faulty',
           terminated_epoch = $4
     WHERE s.sp_id = $1 AND s.deadline = $2 AND s.state = 'faulty'
       AND s.faulty_since <= $4 - $5::bigint
    RETURNING s.sector_number
)
SELECT sector_number, 'missed' AS why FROM missed
UNION ALL SELECT sector_number, 'fault-aged' FROM fault_aged
"""

#: On-time expirations, after the statement above (a sector of a partition that missed its
#: proof and expires now is first faulted, then expired, as builtin-actors records missed
#: PoSts before popping the deadline's expirations): live sectors of the deadline whose
#: expiration epoch is at or before the deadline's last epoch ($3 = its close) leave the live
#: set. One event per partition says so.
_EXPIRE = """
WITH expired AS (
    UPDATE chain_sectors s SET state = 'terminated', termination = 'expired',
           terminated_epoch = $3
     WHERE s.sp_id = $1 AND s.deadline = $2 AND s.state IN ('active', 'faulty', 'recovering')
       AND s.expiration_epoch < $3
    RETURNING s.sector_number, s."partition"
), expired_events AS (
    INSERT INTO cluster_events (at, kind, sp_id, deadline, "partition", message)
    SELECT (SELECT genesis_time + make_interval(secs => $3 * block_time) FROM chain_config),
           'sector-expired', $1, $2, e."partition",
           count(*) || ' sector(s) expired on time (' ||
           array_to_string((array_agg(e.sector_number ORDER BY e.sector_number))[1:10], ', ') ||
           CASE WHEN count(*) > 10 THEN ', ...' ELSE '' END ||
           '): no longer proven, their power is gone'
      FROM expired e
     GROUP BY e."partition"
)
SELECT sector_number FROM expired
"""


async def deadline_cron(
    ex: Execution, miner: Miner, period_start: int, deadline: int, close: int
) -> list[int]:
    """End of a deadline: sectors of partitions that were not proven become faulty (recoveries
    not proven fail too); sectors faulty for 42 proving periods are terminated; sectors whose
    expiration epoch has come expire (terminated on time, see :mod:`.expiration`)."""
    rows = await ex.tx.select(
        _CRON, miner.sp_id, deadline, period_start, close, ex.config.fault_max_age
    )
    expiring = await ex.tx.select(_EXPIRE, miner.sp_id, deadline, close)
    expired = [r["sector_number"] for r in expiring]
    if expired:
        log.info(
            "t0%d deadline %d closed at epoch %d: sectors %s expired",
            miner.sp_id,
            deadline,
            close,
            sorted(expired),
        )
    numbers = [r["sector_number"] for r in rows] + expired
    if numbers:
        missed = sorted(r["sector_number"] for r in rows if r["why"] == "missed")
        if missed:
            log.warning(
                "t0%d deadline %d (period %d) closed without a PoSt for sectors %s: faulty",
                miner.sp_id,
                deadline,
                period_start,
                missed,
            )
        ex.touch(miner.sp_id, numbers)
    return numbers


async def sync_sectors_meta(ex: Execution) -> None:
    """Mirror deadline, partition, faulty and live into Curio's ``sectors_meta``."""
    for sp_id, numbers in ex.touched.items():
        await ex.tx.exec(
            'UPDATE sectors_meta m SET deadline = s.deadline, "partition" = s."partition", '
            "is_faulty = s.state IN ('faulty', 'recovering'), "
            "is_live = s.state <> 'terminated' "
            "FROM chain_sectors s WHERE s.sp_id = m.sp_id AND s.sector_number = m.sector_num "
            "AND m.sp_id = $1 AND m.sector_num = ANY($2::bigint[])",
            sp_id,
            sorted(numbers),
        )
    ex.touched.clear()
