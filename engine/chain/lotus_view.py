"""The devnet chain as Lotus's v1 API shows it: tipsets, miner info, deadlines, partitions.

``harmony chain serve`` answers Lotus's methods from these reads, so a console pointed at the
devnet reads it through the same client (and the same decoder) as a real Lotus node. Each
method reads the state at the chain's head: one repeatable-read transaction per request sees
the head tipset and the sector states the same advance wrote.

What the devnet has, mapped to Lotus's records (the rest is a documented stand-in):

* a tipset per materialised epoch, with one synthetic block: CID ``tipset_cid(epoch, beacon)``
  (the same key ``message_waits.executed_tsk_cid`` names), the epoch's beacon as its one
  beacon entry, the system actor ``t00`` as miner (the devnet has no block producers), no
  ticket, election proof or signatures (``null``, as on a genesis block), weight = height;
* miner info from ``chain_miners``: the miner is its own owner, worker and beneficiary (the
  devnet has no account actors), no pending changes, V1_1 WindowPoSt proof type of its size;
* partitions, faults and recoveries from ``chain_sectors`` states: All = every sector placed
  in the deadline, Live = not terminated, Faulty = faulty or recovering, Recovering,
  Active = active;
* a deadline's ``PostSubmissions`` are the partitions proven in its current challenge window
  (only the open deadline's can be non-empty, as on chain); ``DisputableProofCount`` counts
  the SubmitWindowedPoSt messages of its last closed window; ``DailyFee`` is 0;
* a sector's info (``StateSectorGetInfo``) and its place in the expiration queue
  (``StateSectorExpiration``) from its ``chain_sectors`` row (see :func:`sector_info`);
* power: raw = quality-adjusted = sector size × active sectors (CC sectors, no deals); a
  miner meets the minimum with one active sector (as Lotus's 2 KiB devnets: 2048 bytes).

The devnet keeps no history of sector states, so a ``State*`` call must name the head (or
give the empty key); an older tipset is refused with a message that says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.lotus import (
    BeaconEntry,
    BitField,
    BlockHeader,
    Claim,
    Deadline,
    MinerInfo,
    MinerPower,
    Partition,
    TipSet,
    TipSetKey,
    Version,
)
from engine.lotus import BeneficiaryTerm as LotusBeneficiaryTerm
from engine.lotus import DeadlineInfo as LotusDeadlineInfo

from .advance import tipset_cid
from .cids import object_cid
from .deadlines import DeadlineInfo, new_deadline_info
from .errors import ChainError
from .expiration import expiry_close

if TYPE_CHECKING:
    from engine.harmonydb import Tx

    from .config import ChainConfig
    from .miners import Miner

__all__ = [
    "API_VERSION",
    "FAULT_STATES",
    "NETWORK_NAME",
    "RECOVERING_STATES",
    "SectorNotLive",
    "StateUnavailable",
    "deadline_info",
    "head_tipset",
    "miner_deadlines",
    "miner_info",
    "miner_partitions",
    "miner_power",
    "miner_sector_set",
    "sector_expiration",
    "sector_info",
    "state_tipset",
    "tipset_at",
    "version",
]

#: What ``StateNetworkName`` answers: Curio accepts a node whose name starts with "local"
#: (``deps/apiinfo.go``) whatever network it was built for.
NETWORK_NAME = "localnet-harmony"
#: Lotus's v1 API version 2.3.0, packed as ``APIVersion`` (major<<16 | minor<<8 | patch).
API_VERSION = 0x020300
#: The system actor (f00/t00), the miner of a genesis block.
SYSTEM_ACTOR = "t00"
#: Filecoin's minimum base fee, in attoFIL.
MINIMUM_BASE_FEE = 100


class StateUnavailable(ChainError):
    """The devnet cannot answer for this tipset (none materialised yet, or not the head)."""


@dataclass(frozen=True)
class _Tip:
    epoch: int
    beacon: bytes


def version(config: ChainConfig, software: str) -> Version:
    """``Version``: ``BlockDelay`` is whole seconds (Lotus's type), at least 1."""
    delay = max(1, round(config.profile.block_time))
    return Version(software, API_VERSION, delay, "harmony-chain-serve")


def tipset_at(config: ChainConfig, epoch: int, beacon: bytes, parent: bytes | None) -> TipSet:
    """The devnet tipset of ``epoch``, whose parent's beacon is ``parent`` (None at genesis)."""
    cid = tipset_cid(epoch, beacon)
    block = BlockHeader(
        miner=SYSTEM_ACTOR,
        ticket=None,
        election_proof=None,
        beacon_entries=(BeaconEntry(epoch, beacon),),
        win_post_proof=(),
        parents=() if parent is None else (tipset_cid(epoch - 1, parent),),
        parent_weight=epoch,
        height=epoch,
        parent_state_root=object_cid("state-root", epoch - 1),
        parent_message_receipts=object_cid("receipts", epoch - 1),
        messages=object_cid("messages", epoch),
        bls_aggregate=None,
        timestamp=int(config.time_of(epoch).timestamp()),
        block_sig=None,
        fork_signaling=0,
        parent_base_fee=MINIMUM_BASE_FEE,
    )
    return TipSet((cid,), (block,), epoch)


async def head_tipset(tx: Tx, config: ChainConfig) -> TipSet:
    """``ChainHead``: the last materialised epoch."""
    rows = await tx.select("SELECT epoch, beacon FROM chain_tipsets ORDER BY epoch DESC LIMIT 2")
    if not rows:
        raise StateUnavailable(
            "the devnet chain has no tipset yet: a running harmony node materialises epochs "
            "(its ChainTick task)"
        )
    head = _Tip(rows[0]["epoch"], bytes(rows[0]["beacon"]))
    parent = None
    if len(rows) > 1 and rows[1]["epoch"] == head.epoch - 1:
        parent = bytes(rows[1]["beacon"])
    return tipset_at(config, head.epoch, head.beacon, parent)


async def state_tipset(tx: Tx, config: ChainConfig, key: TipSetKey) -> TipSet:
    """The tipset a ``State*`` call reads at: the head for the empty key or the head's key."""
    head = await head_tipset(tx, config)
    if key and tuple(key) != head.cids:
        raise StateUnavailable(
            f"tipset {', '.join(key)} is not the devnet's head (epoch {head.height}): the "
            "devnet keeps only the head's state, so ask with the head's key or the empty key []"
        )
    return head


def miner_info(miner: Miner) -> MinerInfo:
    """``StateMinerInfo`` of a devnet miner."""
    address = miner.address
    return MinerInfo(
        owner=address,
        worker=address,
        new_worker=None,
        control_addresses=(),
        worker_change_epoch=-1,
        peer_id=None,
        multiaddrs=(),
        # StackedDrgWindow<size>V1_1 = 10..14, in the order of the V1_1 seal proofs 5..9.
        window_post_proof_type=10 + miner.reg_seal_proof % 5,
        sector_size=miner.sector_size,
        window_post_partition_sectors=miner.partition_size,
        consensus_fault_elapsed=-1,
        pending_owner_address=None,
        beneficiary=address,
        beneficiary_term=LotusBeneficiaryTerm(0, 0, 0),
        pending_beneficiary_term=None,
    )


def _lotus_deadline(info: DeadlineInfo) -> LotusDeadlineInfo:
    p = info.profile
    return LotusDeadlineInfo(
        current_epoch=info.current_epoch,
        period_start=info.period_start,
        index=info.index,
        open=info.open,
        close=info.close,
        challenge=info.challenge,
        fault_cutoff=info.fault_cutoff,
        wpost_period_deadlines=p.wpost_period_deadlines,
        wpost_proving_period=p.wpost_proving_period,
        wpost_challenge_window=p.wpost_challenge_window,
        wpost_challenge_lookback=p.wpost_challenge_lookback,
        fault_declaration_cutoff=p.fault_declaration_cutoff,
    )


def deadline_info(config: ChainConfig, miner: Miner, epoch: int) -> LotusDeadlineInfo:
    """``StateMinerProvingDeadline``: the deadline open at ``epoch`` (Lotus:
    ``DeadlineInfo(height).NextNotElapsed()``)."""
    return _lotus_deadline(miner.deadline(config, epoch).next_not_elapsed())


_SUBMISSIONS = """
SELECT proving_period_start, deadline,
       array_agg(DISTINCT "partition" ORDER BY "partition") AS partitions,
       count(DISTINCT message_cid) AS messages
  FROM chain_post_submissions
 WHERE sp_id = $1 AND proving_period_start = ANY($2::bigint[])
 GROUP BY proving_period_start, deadline
"""


async def miner_deadlines(tx: Tx, config: ChainConfig, miner: Miner, epoch: int) -> list[Deadline]:
    """``StateMinerDeadlines``: one record per deadline index."""
    profile = config.profile
    current = miner.deadline(config, epoch)
    previous_start = current.period_start - profile.wpost_proving_period
    posted = {
        (r["proving_period_start"], r["deadline"]): r
        for r in await tx.select(_SUBMISSIONS, miner.sp_id, [current.period_start, previous_start])
    }
    out = []
    for index in range(profile.wpost_period_deadlines):
        this_period = new_deadline_info(profile, current.period_start, index, epoch)
        # The window whose proofs are still disputable: this period's if it has closed,
        # else the previous period's.
        closed_start = current.period_start if this_period.has_elapsed else previous_start
        closed = posted.get((closed_start, index))
        proven = BitField()
        if index == current.index:
            now = posted.get((current.period_start, index))
            proven = BitField.of(now["partitions"]) if now else BitField()
        out.append(Deadline(proven, closed["messages"] if closed else 0, 0))
    return out


_ISLANDS = """
SELECT "partition", state, min(sector_number) AS lo, max(sector_number) + 1 AS hi
  FROM (SELECT "partition", state, sector_number,
               sector_number - row_number() OVER (PARTITION BY "partition", state
                                                  ORDER BY sector_number) AS island
          FROM chain_sectors
         WHERE sp_id = $1 AND deadline = ANY($2::int[])) s
 GROUP BY "partition", state, island
 ORDER BY "partition", state, lo
"""


async def _state_sets(tx: Tx, sp_id: int, deadlines: list[int]) -> dict[int, dict[str, BitField]]:
    """Per partition, per sector state, the sector numbers as a bitfield (computed as runs in
    SQL, so a partition of thousands of sectors is a few rows)."""
    sets: dict[int, dict[str, list[tuple[int, int]]]] = {}
    for row in await tx.select(_ISLANDS, sp_id, deadlines):
        by_state = sets.setdefault(row["partition"], {})
        by_state.setdefault(row["state"], []).append((row["lo"], row["hi"]))
    return {
        part: {state: BitField(tuple(ranges)) for state, ranges in states.items()}
        for part, states in sets.items()
    }


def _union(states: dict[str, BitField], names: tuple[str, ...]) -> BitField:
    out = BitField()
    for name in names:
        out = out | states.get(name, BitField())
    return out


_ALL = ("active", "faulty", "recovering", "terminated")
_LIVE = ("active", "faulty", "recovering")
#: Sectors in the fault set (recovering ones stay faulty until proven), and those recovering.
FAULT_STATES = ("faulty", "recovering")
RECOVERING_STATES = ("recovering",)


async def miner_partitions(
    tx: Tx, config: ChainConfig, miner: Miner, deadline: int
) -> list[Partition]:
    """``StateMinerPartitions`` of one deadline, partitions by index."""
    if not 0 <= deadline < config.profile.wpost_period_deadlines:
        raise StateUnavailable(
            f"deadline index {deadline} out of range (0 to "
            f"{config.profile.wpost_period_deadlines - 1})"
        )
    sets = await _state_sets(tx, miner.sp_id, [deadline])
    count = max(sets, default=-1) + 1
    out = []
    for index in range(count):
        states = sets.get(index, {})
        out.append(
            Partition(
                all_sectors=_union(states, _ALL),
                faulty_sectors=_union(states, FAULT_STATES),
                recovering_sectors=_union(states, RECOVERING_STATES),
                live_sectors=_union(states, _LIVE),
                active_sectors=_union(states, ("active",)),
            )
        )
    return out


_SET_ISLANDS = """
SELECT min(sector_number) AS lo, max(sector_number) + 1 AS hi
  FROM (SELECT sector_number,
               sector_number - row_number() OVER (ORDER BY sector_number) AS island
          FROM chain_sectors
         WHERE sp_id = $1 AND state = ANY($2::text[]) AND deadline IS NOT NULL) s
 GROUP BY island
 ORDER BY lo
"""


async def miner_sector_set(tx: Tx, miner: Miner, states: tuple[str, ...]) -> BitField:
    """The miner's sectors in ``states`` over all deadlines (``StateMinerFaults``: faulty and
    recovering; ``StateMinerRecoveries``: recovering)."""
    rows = await tx.select(_SET_ISLANDS, miner.sp_id, list(states))
    return BitField(tuple((r["lo"], r["hi"]) for r in rows))


_POWER = """
SELECT m.sp_id, m.sector_size, count(s.sector_number) AS active
  FROM chain_miners m
  LEFT JOIN chain_sectors s ON s.sp_id = m.sp_id AND s.state = 'active'
 GROUP BY m.sp_id, m.sector_size
"""


async def miner_power(tx: Tx, miner: Miner) -> MinerPower:
    """``StateMinerPower``: the miner's claim and the network's total."""
    rows = await tx.select(_POWER)
    power = {r["sp_id"]: r["sector_size"] * r["active"] for r in rows}
    total = sum(power.values())
    own = power.get(miner.sp_id, 0)
    return MinerPower(Claim(own, own), Claim(total, total), has_min_power=own >= miner.sector_size)


_SECTOR = """
SELECT sector_number, state, sealed_cid, activation_epoch, expiration_epoch, deadline,
       faulty_since, termination
  FROM chain_sectors
 WHERE sp_id = $1 AND sector_number = $2 AND state <> 'precommitted'
"""


async def sector_info(tx: Tx, miner: Miner, number: int) -> dict[str, Any] | None:
    """``StateSectorGetInfo``: the sector's on-chain info (Lotus's ``SectorOnChainInfo``, v1
    API), or None where the chain has none: never activated, or terminated early (the actor
    deletes those infos when it processes the termination). A sector that expired on time keeps
    its info (``lotus-miner sectors expired`` reads such infos: Expiration before the head).
    CC sectors of the devnet: no deals, weights, pledge or rewards (``"0"``), no sector key,
    no flags; ``PowerBaseEpoch`` is the activation (no extension or snap on the devnet)."""
    r = await tx.query_row(_SECTOR, miner.sp_id, number)
    if r is None or (r["state"] == "terminated" and r["termination"] != "expired"):
        return None
    return {
        "SectorNumber": r["sector_number"],
        "SealProof": miner.reg_seal_proof,
        "SealedCID": {"/": r["sealed_cid"]},
        "Activation": r["activation_epoch"] or 0,
        "Expiration": r["expiration_epoch"] or 0,
        "DealWeight": "0",
        "VerifiedDealWeight": "0",
        "InitialPledge": "0",
        "ExpectedDayReward": "0",
        "ExpectedStoragePledge": "0",
        "PowerBaseEpoch": r["activation_epoch"] or 0,
        "ReplacedDayReward": "0",
        "SectorKeyCID": None,
        "Flags": 0,
        "DailyFee": "0",
    }


class SectorNotLive(ChainError):
    """``StateSectorExpiration`` of a sector that is not live."""


async def sector_expiration(
    tx: Tx, config: ChainConfig, miner: Miner, number: int, epoch: int
) -> dict[str, int]:
    """``StateSectorExpiration``: where the sector sits in its deadline's expiration queue, at
    ``epoch``: ``OnTime``, its expiration quantized to the last epoch of its deadline (the
    cron at that deadline's end expires it); ``Early``, for a faulty sector, the same for its
    fault's max age (terminated then unless recovered), else 0."""
    r = await tx.query_row(_SECTOR, miner.sp_id, number)
    if r is None or r["state"] not in ("active", "faulty", "recovering") or r["deadline"] is None:
        raise SectorNotLive(f"failed to find sector {number}: not a live sector of {miner.address}")
    period_start = miner.deadline(config, epoch).period_start
    close = new_deadline_info(config.profile, period_start, r["deadline"], epoch).close
    on_time = 0
    if r["expiration_epoch"] is not None:
        on_time = expiry_close(config.profile, r["expiration_epoch"], close) - 1
    early = 0
    if r["faulty_since"] is not None and r["state"] in ("faulty", "recovering"):
        # the cron terminates it at the first close c with faulty_since <= c - max age
        early = expiry_close(config.profile, r["faulty_since"] + config.fault_max_age - 1, close)
        early -= 1
        if on_time and early >= on_time:
            early = 0  # it expires on time first
    return {"OnTime": on_time, "Early": early}
