"""The records of the Lotus v1 API subset the panes read, decoded exactly as Lotus encodes them.

Each record mirrors a Go type of ``filecoin-project/lotus`` and its JSON in
``documentation/en/api-methods-v1-stable.md``: field for field, in the same order, under the
same (CamelCase) names. ``from_json`` is strict about the fields it models (a missing field or a
wrong type raises :class:`~engine.lotus.errors.LotusDecodeError` naming it) and ignores fields
it does not know, so a newer node that adds one still decodes. ``to_json`` writes the
documented shape back, which is what ``harmony chain serve`` sends: the devnet server and a
real Lotus node are read by the same decoder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .bitfield import BitField
from .encoding import (
    Cid,
    TipSetKey,
    address_json,
    bigint_json,
    bytes_json,
    cid_json,
    field,
    read_address,
    read_bigint,
    read_bool,
    read_bytes,
    read_cid,
    read_int,
    read_list,
    read_object,
    read_optional_address,
    read_str,
    read_tipset_key,
    tipset_key_json,
)

__all__ = [
    "BeaconEntry",
    "BeneficiaryTerm",
    "BlockHeader",
    "Claim",
    "Deadline",
    "DeadlineInfo",
    "ElectionProof",
    "MinerInfo",
    "MinerPower",
    "Partition",
    "PendingBeneficiaryChange",
    "PoStProof",
    "Signature",
    "Ticket",
    "TipSet",
    "Version",
]


def _optional(value: Any, decode: Any, where: str) -> Any:
    return None if value is None else decode(value, where)


# ----------------------------------------------------------------------------- chain


@dataclass(frozen=True)
class Ticket:
    """``types.Ticket``."""

    vrf_proof: bytes

    @classmethod
    def from_json(cls, value: Any, where: str = "Ticket") -> Ticket:
        obj = read_object(value, where)
        return cls(read_bytes(field(obj, "VRFProof", where), f"{where}.VRFProof"))

    def to_json(self) -> dict[str, Any]:
        return {"VRFProof": bytes_json(self.vrf_proof)}


@dataclass(frozen=True)
class ElectionProof:
    """``types.ElectionProof``: how many blocks the miner won at this height."""

    win_count: int
    vrf_proof: bytes

    @classmethod
    def from_json(cls, value: Any, where: str = "ElectionProof") -> ElectionProof:
        obj = read_object(value, where)
        return cls(
            read_int(field(obj, "WinCount", where), f"{where}.WinCount"),
            read_bytes(field(obj, "VRFProof", where), f"{where}.VRFProof"),
        )

    def to_json(self) -> dict[str, Any]:
        return {"WinCount": self.win_count, "VRFProof": bytes_json(self.vrf_proof)}


@dataclass(frozen=True)
class BeaconEntry:
    """``types.BeaconEntry``: one drand round."""

    round: int
    data: bytes

    @classmethod
    def from_json(cls, value: Any, where: str = "BeaconEntry") -> BeaconEntry:
        obj = read_object(value, where)
        return cls(
            read_int(field(obj, "Round", where), f"{where}.Round", unsigned=True),
            read_bytes(field(obj, "Data", where), f"{where}.Data"),
        )

    def to_json(self) -> dict[str, Any]:
        return {"Round": self.round, "Data": bytes_json(self.data)}


@dataclass(frozen=True)
class PoStProof:
    """``proof.PoStProof``: a RegisteredPoStProof number and the proof bytes."""

    post_proof: int
    proof_bytes: bytes

    @classmethod
    def from_json(cls, value: Any, where: str = "PoStProof") -> PoStProof:
        obj = read_object(value, where)
        return cls(
            read_int(field(obj, "PoStProof", where), f"{where}.PoStProof"),
            read_bytes(field(obj, "ProofBytes", where), f"{where}.ProofBytes"),
        )

    def to_json(self) -> dict[str, Any]:
        return {"PoStProof": self.post_proof, "ProofBytes": bytes_json(self.proof_bytes)}


@dataclass(frozen=True)
class Signature:
    """``crypto.Signature``: type 1 secp256k1, 2 BLS, 3 delegated."""

    type: int
    data: bytes

    @classmethod
    def from_json(cls, value: Any, where: str = "Signature") -> Signature:
        obj = read_object(value, where)
        return cls(
            read_int(field(obj, "Type", where), f"{where}.Type"),
            read_bytes(field(obj, "Data", where), f"{where}.Data"),
        )

    def to_json(self) -> dict[str, Any]:
        return {"Type": self.type, "Data": bytes_json(self.data)}


@dataclass(frozen=True)
class BlockHeader:
    """``types.BlockHeader`` (the ``Blocks`` of a tipset). The pointer fields (``Ticket``,
    ``ElectionProof``, ``BLSAggregate``, ``BlockSig``) are ``null`` on a genesis block."""

    miner: str
    ticket: Ticket | None
    election_proof: ElectionProof | None
    beacon_entries: tuple[BeaconEntry, ...]
    win_post_proof: tuple[PoStProof, ...]
    parents: TipSetKey
    parent_weight: int
    height: int
    parent_state_root: Cid
    parent_message_receipts: Cid
    messages: Cid
    bls_aggregate: Signature | None
    timestamp: int
    block_sig: Signature | None
    fork_signaling: int
    parent_base_fee: int

    @classmethod
    def from_json(cls, value: Any, where: str = "BlockHeader") -> BlockHeader:
        obj = read_object(value, where)

        def get(key: str) -> Any:
            return field(obj, key, where)

        def at(key: str) -> str:
            return f"{where}.{key}"

        return cls(
            miner=read_address(get("Miner"), at("Miner")),
            ticket=_optional(get("Ticket"), Ticket.from_json, at("Ticket")),
            election_proof=_optional(
                get("ElectionProof"), ElectionProof.from_json, at("ElectionProof")
            ),
            beacon_entries=tuple(
                BeaconEntry.from_json(e, f"{at('BeaconEntries')}[{i}]")
                for i, e in enumerate(read_list(get("BeaconEntries"), at("BeaconEntries")))
            ),
            win_post_proof=tuple(
                PoStProof.from_json(p, f"{at('WinPoStProof')}[{i}]")
                for i, p in enumerate(read_list(get("WinPoStProof"), at("WinPoStProof")))
            ),
            parents=read_tipset_key(get("Parents"), at("Parents")),
            parent_weight=read_bigint(get("ParentWeight"), at("ParentWeight")),
            height=read_int(get("Height"), at("Height")),
            parent_state_root=read_cid(get("ParentStateRoot"), at("ParentStateRoot")),
            parent_message_receipts=read_cid(
                get("ParentMessageReceipts"), at("ParentMessageReceipts")
            ),
            messages=read_cid(get("Messages"), at("Messages")),
            bls_aggregate=_optional(get("BLSAggregate"), Signature.from_json, at("BLSAggregate")),
            timestamp=read_int(get("Timestamp"), at("Timestamp"), unsigned=True),
            block_sig=_optional(get("BlockSig"), Signature.from_json, at("BlockSig")),
            fork_signaling=read_int(get("ForkSignaling"), at("ForkSignaling"), unsigned=True),
            parent_base_fee=read_bigint(get("ParentBaseFee"), at("ParentBaseFee")),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "Miner": address_json(self.miner),
            "Ticket": None if self.ticket is None else self.ticket.to_json(),
            "ElectionProof": None if self.election_proof is None else self.election_proof.to_json(),
            "BeaconEntries": [e.to_json() for e in self.beacon_entries],
            "WinPoStProof": [p.to_json() for p in self.win_post_proof],
            "Parents": tipset_key_json(self.parents),
            "ParentWeight": bigint_json(self.parent_weight),
            "Height": self.height,
            "ParentStateRoot": cid_json(self.parent_state_root),
            "ParentMessageReceipts": cid_json(self.parent_message_receipts),
            "Messages": cid_json(self.messages),
            "BLSAggregate": None if self.bls_aggregate is None else self.bls_aggregate.to_json(),
            "Timestamp": self.timestamp,
            "BlockSig": None if self.block_sig is None else self.block_sig.to_json(),
            "ForkSignaling": self.fork_signaling,
            "ParentBaseFee": bigint_json(self.parent_base_fee),
        }


@dataclass(frozen=True)
class TipSet:
    """``types.TipSet`` (``ChainHead``): the key (``Cids``), the blocks and the height."""

    cids: TipSetKey
    blocks: tuple[BlockHeader, ...]
    height: int

    @property
    def key(self) -> TipSetKey:
        """What the ``State*`` methods take to read the state at this tipset."""
        return self.cids

    @property
    def timestamp(self) -> int | None:
        """Unix seconds of the tipset (all its blocks share it)."""
        return self.blocks[0].timestamp if self.blocks else None

    @classmethod
    def from_json(cls, value: Any, where: str = "TipSet") -> TipSet:
        obj = read_object(value, where)
        blocks = read_list(field(obj, "Blocks", where), f"{where}.Blocks")
        return cls(
            cids=read_tipset_key(field(obj, "Cids", where), f"{where}.Cids"),
            blocks=tuple(
                BlockHeader.from_json(b, f"{where}.Blocks[{i}]") for i, b in enumerate(blocks)
            ),
            height=read_int(field(obj, "Height", where), f"{where}.Height"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "Cids": tipset_key_json(self.cids),
            "Blocks": [b.to_json() for b in self.blocks],
            "Height": self.height,
        }


@dataclass(frozen=True)
class Version:
    """``api.APIVersion`` (``Version``): ``APIVersion`` packs major.minor.patch in bytes
    (``0x020300`` = 131840 is v1's 2.3.0); ``BlockDelay`` is the epoch length in seconds."""

    version: str
    api_version: int
    block_delay: int
    agent: str

    @classmethod
    def from_json(cls, value: Any, where: str = "Version") -> Version:
        obj = read_object(value, where)
        return cls(
            read_str(field(obj, "Version", where), f"{where}.Version"),
            read_int(field(obj, "APIVersion", where), f"{where}.APIVersion", unsigned=True),
            read_int(field(obj, "BlockDelay", where), f"{where}.BlockDelay", unsigned=True),
            # Older nodes have no Agent.
            read_str(obj.get("Agent", ""), f"{where}.Agent"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "Version": self.version,
            "APIVersion": self.api_version,
            "BlockDelay": self.block_delay,
            "Agent": self.agent,
        }


# ----------------------------------------------------------------------------- miner


@dataclass(frozen=True)
class BeneficiaryTerm:
    """``miner.BeneficiaryTerm``: how much the beneficiary may withdraw, until when."""

    quota: int
    used_quota: int
    expiration: int

    @classmethod
    def from_json(cls, value: Any, where: str = "BeneficiaryTerm") -> BeneficiaryTerm:
        obj = read_object(value, where)
        return cls(
            read_bigint(field(obj, "Quota", where), f"{where}.Quota"),
            read_bigint(field(obj, "UsedQuota", where), f"{where}.UsedQuota"),
            read_int(field(obj, "Expiration", where), f"{where}.Expiration"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "Quota": bigint_json(self.quota),
            "UsedQuota": bigint_json(self.used_quota),
            "Expiration": self.expiration,
        }


@dataclass(frozen=True)
class PendingBeneficiaryChange:
    """``miner.PendingBeneficiaryChange``: a proposed beneficiary awaiting both approvals."""

    new_beneficiary: str
    new_quota: int
    new_expiration: int
    approved_by_beneficiary: bool
    approved_by_nominee: bool

    @classmethod
    def from_json(
        cls, value: Any, where: str = "PendingBeneficiaryTerm"
    ) -> PendingBeneficiaryChange:
        obj = read_object(value, where)
        return cls(
            read_address(field(obj, "NewBeneficiary", where), f"{where}.NewBeneficiary"),
            read_bigint(field(obj, "NewQuota", where), f"{where}.NewQuota"),
            read_int(field(obj, "NewExpiration", where), f"{where}.NewExpiration"),
            read_bool(field(obj, "ApprovedByBeneficiary", where), f"{where}.ApprovedByBeneficiary"),
            read_bool(field(obj, "ApprovedByNominee", where), f"{where}.ApprovedByNominee"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "NewBeneficiary": address_json(self.new_beneficiary),
            "NewQuota": bigint_json(self.new_quota),
            "NewExpiration": self.new_expiration,
            "ApprovedByBeneficiary": self.approved_by_beneficiary,
            "ApprovedByNominee": self.approved_by_nominee,
        }


@dataclass(frozen=True)
class MinerInfo:
    """``api.MinerInfo`` (``StateMinerInfo``).

    ``new_worker`` is None when no worker change is pending (Lotus writes ``"<empty>"``);
    ``worker_change_epoch`` is then -1. ``peer_id`` and ``pending_owner_address`` are Go
    pointers, ``null`` when unset.
    """

    owner: str
    worker: str
    new_worker: str | None
    control_addresses: tuple[str, ...]
    worker_change_epoch: int
    peer_id: str | None
    multiaddrs: tuple[bytes, ...]
    window_post_proof_type: int
    sector_size: int
    window_post_partition_sectors: int
    consensus_fault_elapsed: int
    pending_owner_address: str | None
    beneficiary: str
    beneficiary_term: BeneficiaryTerm | None
    pending_beneficiary_term: PendingBeneficiaryChange | None

    @classmethod
    def from_json(cls, value: Any, where: str = "MinerInfo") -> MinerInfo:
        obj = read_object(value, where)

        def get(key: str) -> Any:
            return field(obj, key, where)

        def at(key: str) -> str:
            return f"{where}.{key}"

        peer = get("PeerId")
        return cls(
            owner=read_address(get("Owner"), at("Owner")),
            worker=read_address(get("Worker"), at("Worker")),
            new_worker=read_optional_address(get("NewWorker"), at("NewWorker")),
            control_addresses=tuple(
                read_address(a, f"{at('ControlAddresses')}[{i}]")
                for i, a in enumerate(read_list(get("ControlAddresses"), at("ControlAddresses")))
            ),
            worker_change_epoch=read_int(get("WorkerChangeEpoch"), at("WorkerChangeEpoch")),
            peer_id=None if peer is None else read_str(peer, at("PeerId")),
            multiaddrs=tuple(
                read_bytes(m, f"{at('Multiaddrs')}[{i}]")
                for i, m in enumerate(read_list(get("Multiaddrs"), at("Multiaddrs")))
            ),
            window_post_proof_type=read_int(get("WindowPoStProofType"), at("WindowPoStProofType")),
            sector_size=read_int(get("SectorSize"), at("SectorSize"), unsigned=True),
            window_post_partition_sectors=read_int(
                get("WindowPoStPartitionSectors"), at("WindowPoStPartitionSectors"), unsigned=True
            ),
            consensus_fault_elapsed=read_int(
                get("ConsensusFaultElapsed"), at("ConsensusFaultElapsed")
            ),
            pending_owner_address=read_optional_address(
                get("PendingOwnerAddress"), at("PendingOwnerAddress")
            ),
            beneficiary=read_address(get("Beneficiary"), at("Beneficiary")),
            beneficiary_term=_optional(
                get("BeneficiaryTerm"), BeneficiaryTerm.from_json, at("BeneficiaryTerm")
            ),
            pending_beneficiary_term=_optional(
                get("PendingBeneficiaryTerm"),
                PendingBeneficiaryChange.from_json,
                at("PendingBeneficiaryTerm"),
            ),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "Owner": address_json(self.owner),
            "Worker": address_json(self.worker),
            "NewWorker": address_json(self.new_worker),
            "ControlAddresses": [address_json(a) for a in self.control_addresses],
            "WorkerChangeEpoch": self.worker_change_epoch,
            "PeerId": self.peer_id,
            "Multiaddrs": [bytes_json(m) for m in self.multiaddrs],
            "WindowPoStProofType": self.window_post_proof_type,
            "SectorSize": self.sector_size,
            "WindowPoStPartitionSectors": self.window_post_partition_sectors,
            "ConsensusFaultElapsed": self.consensus_fault_elapsed,
            # A nil *address.Address is null, not "<empty>".
            "PendingOwnerAddress": self.pending_owner_address,
            "Beneficiary": address_json(self.beneficiary),
            "BeneficiaryTerm": None
            if self.beneficiary_term is None
            else self.beneficiary_term.to_json(),
            "PendingBeneficiaryTerm": None
            if self.pending_beneficiary_term is None
            else self.pending_beneficiary_term.to_json(),
        }


@dataclass(frozen=True)
class DeadlineInfo:
    """``dline.Info`` (``StateMinerProvingDeadline``): the deadline open at ``current_epoch``
    (or the next one), with the policy constants it was computed from."""

    current_epoch: int
    period_start: int
    index: int
    open: int
    close: int
    challenge: int
    fault_cutoff: int
    wpost_period_deadlines: int
    wpost_proving_period: int
    wpost_challenge_window: int
    wpost_challenge_lookback: int
    fault_declaration_cutoff: int

    _FIELDS = (
        ("current_epoch", "CurrentEpoch"),
        ("period_start", "PeriodStart"),
        ("index", "Index"),
        ("open", "Open"),
        ("close", "Close"),
        ("challenge", "Challenge"),
        ("fault_cutoff", "FaultCutoff"),
        ("wpost_period_deadlines", "WPoStPeriodDeadlines"),
        ("wpost_proving_period", "WPoStProvingPeriod"),
        ("wpost_challenge_window", "WPoStChallengeWindow"),
        ("wpost_challenge_lookback", "WPoStChallengeLookback"),
        ("fault_declaration_cutoff", "FaultDeclarationCutoff"),
    )

    @property
    def is_open(self) -> bool:
        return self.open <= self.current_epoch < self.close

    @property
    def has_elapsed(self) -> bool:
        return self.current_epoch >= self.close

    @property
    def fault_cutoff_passed(self) -> bool:
        return self.current_epoch >= self.fault_cutoff

    @property
    def period_end(self) -> int:
        return self.period_start + self.wpost_proving_period - 1

    @property
    def next_period_start(self) -> int:
        return self.period_start + self.wpost_proving_period

    @classmethod
    def from_json(cls, value: Any, where: str = "DeadlineInfo") -> DeadlineInfo:
        obj = read_object(value, where)
        return cls(
            **{
                name: read_int(field(obj, key, where), f"{where}.{key}")
                for name, key in cls._FIELDS
            }
        )

    def to_json(self) -> dict[str, Any]:
        return {key: getattr(self, name) for name, key in self._FIELDS}


@dataclass(frozen=True)
class Deadline:
    """``api.Deadline`` (one of the 48 of ``StateMinerDeadlines``): the partitions proven in the
    current challenge window, optimistic proofs still open to dispute, and the daily fee."""

    post_submissions: BitField
    disputable_proof_count: int
    daily_fee: int

    @classmethod
    def from_json(cls, value: Any, where: str = "Deadline") -> Deadline:
        obj = read_object(value, where)
        return cls(
            BitField.from_json(field(obj, "PostSubmissions", where), f"{where}.PostSubmissions"),
            read_int(
                field(obj, "DisputableProofCount", where),
                f"{where}.DisputableProofCount",
                unsigned=True,
            ),
            # DailyFee came with FIP-0100 (nv25); older nodes leave it out.
            read_bigint(obj.get("DailyFee", "0"), f"{where}.DailyFee"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "PostSubmissions": self.post_submissions.to_json(),
            "DisputableProofCount": self.disputable_proof_count,
            "DailyFee": bigint_json(self.daily_fee),
        }


@dataclass(frozen=True)
class Partition:
    """``api.Partition`` (``StateMinerPartitions``): sector sets of one partition.

    Live = All − terminated; Faulty ⊆ Live (recovering sectors stay faulty until proven);
    Recovering ⊆ Faulty; Active = Live − Faulty − unproven.
    """

    all_sectors: BitField
    faulty_sectors: BitField
    recovering_sectors: BitField
    live_sectors: BitField
    active_sectors: BitField

    _FIELDS = (
        ("all_sectors", "AllSectors"),
        ("faulty_sectors", "FaultySectors"),
        ("recovering_sectors", "RecoveringSectors"),
        ("live_sectors", "LiveSectors"),
        ("active_sectors", "ActiveSectors"),
    )

    @classmethod
    def from_json(cls, value: Any, where: str = "Partition") -> Partition:
        obj = read_object(value, where)
        return cls(
            **{
                name: BitField.from_json(field(obj, key, where), f"{where}.{key}")
                for name, key in cls._FIELDS
            }
        )

    def to_json(self) -> dict[str, Any]:
        return {key: getattr(self, name).to_json() for name, key in self._FIELDS}


@dataclass(frozen=True)
class Claim:
    """``power.Claim``: raw-byte and quality-adjusted power, in bytes."""

    raw_byte_power: int
    quality_adj_power: int

    @classmethod
    def from_json(cls, value: Any, where: str = "Claim") -> Claim:
        obj = read_object(value, where)
        return cls(
            read_bigint(field(obj, "RawBytePower", where), f"{where}.RawBytePower"),
            read_bigint(field(obj, "QualityAdjPower", where), f"{where}.QualityAdjPower"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "RawBytePower": bigint_json(self.raw_byte_power),
            "QualityAdjPower": bigint_json(self.quality_adj_power),
        }


@dataclass(frozen=True)
class MinerPower:
    """``api.MinerPower`` (``StateMinerPower``): the miner's claim, the network's total, and
    whether the miner meets the consensus minimum (may win blocks)."""

    miner_power: Claim
    total_power: Claim
    has_min_power: bool

    @classmethod
    def from_json(cls, value: Any, where: str = "MinerPower") -> MinerPower:
        obj = read_object(value, where)
        return cls(
            Claim.from_json(field(obj, "MinerPower", where), f"{where}.MinerPower"),
            Claim.from_json(field(obj, "TotalPower", where), f"{where}.TotalPower"),
            read_bool(field(obj, "HasMinPower", where), f"{where}.HasMinPower"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "MinerPower": self.miner_power.to_json(),
            "TotalPower": self.total_power.to_json(),
            "HasMinPower": self.has_min_power,
        }
