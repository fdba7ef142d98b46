# ruff: noqa: E501  (the documented examples keep their long base64 values whole)
"""Every record decodes from the JSON Lotus documents, and encodes back to exactly that JSON.

The shapes below are the response examples of filecoin-project/lotus
``documentation/en/api-methods-v1-stable.md`` (at b835fab702, 2026-08-06), one per method, in
the section named in each comment. Encoding back to the same JSON, key order included, is what
makes ``harmony chain serve`` answer in Lotus's shapes.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from engine.lotus import (
    BitField,
    BlockHeader,
    Deadline,
    DeadlineInfo,
    LotusDecodeError,
    MinerInfo,
    MinerPower,
    Partition,
    TipSet,
    Version,
)

# "### ChainHead" (Response)
CHAIN_HEAD = json.loads(
    """
{
  "Cids": [{"/": "bafy2bzacedo7hjsumaajt6sbor42qycvjyk6goqe4oi4o4ddsjxkdeqrqf42c"}],
  "Blocks": [
    {
      "Miner": "f01938223",
      "Ticket": {
        "VRFProof": "rIPyBy+F827Szc5oN/6ylCmpzxfAWr7aI5F4YJrN4pLSyknkcJI3ivsCo2KKjQVZFRnFyEus1maD5LdzQpnFRKMla4138qEuML+Ne/fsgOMrUEAeL34ceVwJd+Mt4Jrz"
      },
      "ElectionProof": {
        "WinCount": 1,
        "VRFProof": "sN51JqjZNf+xWxwoo+wlMH1bpXI9T3wUIrla6FpwTxU4jC1z+ab5NFU/B2ZdDITTE+u8qaiibtLkld5lhNcOEOUqwKNyJ4nwFo5vAhWqvOTNdOiZmxsKpWG0NZUoXb/+"
      },
      "BeaconEntries": [
        {"Round": 17133822, "Data": "tH4q8euIaP9/QRJt8ALfkBvttSmQ/DOAt8+37wGGV5f8kkhzEFrHhskitNnPS70j"},
        {"Round": 17133832, "Data": "uQD5cEn8U69+sPjpccT8Bm0jVrnXLScf2jBkLJNHvAHLA6tPsZDREzpBIckpVvPy"}
      ],
      "WinPoStProof": [
        {
          "PoStProof": 3,
          "ProofBytes": "qOPLMhMui8qm/rE2y/UceyBDv5JvRCH5Fc5Ul+kuN190XDcMme5eKURUCmE2sN1HoQ2dMZX+xNZY351dbG93H/tUr6wuNhkvmemi2Xi62YvqU36/kJh+K2YBiW7h/4LXCUTP/6XAOONOPl+j9GqS7RQxruPLfIyehvzVC0C8dB8+SVWtAnRKRPUUOPJvyHKejlrCyzWXOz/I7JG2/qEGLD0xwazBVwML1vVvuE5NzXeOoQGlnB2PwSRb5Cn8FH8Q"
        }
      ],
      "Parents": [
        {"/": "bafy2bzaceba2kdmysmi5ieugzvv5np7f2lobayzpvtk777du74n7jq6xhynda"},
        {"/": "bafy2bzacecrye24tkqrvvddcf62gfi4z4o33z2tdedbpaalordozaxfrz2jyi"},
        {"/": "bafy2bzaceab5mrohjvnp3mz7mo33ky7qqlmssrs7veqmjrgouafxyhnd5dy66"}
      ],
      "ParentWeight": "116013147118",
      "Height": 4863283,
      "ParentStateRoot": {"/": "bafy2bzaceajxzsvzuq3ddzxfrs2jlaxsooqmgdy5uxbqujnjy3y56iumzzy7u"},
      "ParentMessageReceipts": {
        "/": "bafy2bzacecfcx2ykqucyv3gkyrcy3upwrvdraz3ktfg7phkqysefdwsggglac"
      },
      "Messages": {"/": "bafy2bzacebzofmh6migvc4v6qsme6vuxlhi6pv2ocy4apyic3uihjqm7dum3u"},
      "BLSAggregate": {
        "Type": 2,
        "Data": "krFATGA0OBu/kFwtXsThVtKCkppnU7045uTURCeiOeJttxuXfx3wqJrLkCytnJFWFLVC+tiVWI4BxC3wqc9r6eAlNr9dEBx+3KwML/RFG/b5grmknLpGWn7g1EB/2T4y"
      },
      "Timestamp": 1744204890,
      "BlockSig": {
        "Type": 2,
        "Data": "pWiUr+M8xxTxLED7GuU586gSfZCaHyLbLj0uS0HhKYRtHuyG47fIrfIT/04OCmQvEXBD8pFraWbMc3tnFrSsM1mIBJ5M38UPUfXDSspo+QGdouo2kll2X+VNKY3ajb1K"
      },
      "ForkSignaling": 0,
      "ParentBaseFee": "20592036"
    }
  ],
  "Height": 4863283
}
"""
)

# "### Version" (Response)
VERSION = {
    "Version": "string value",
    "APIVersion": 131840,
    "BlockDelay": 42,
    "Agent": "string value",
}

# "### StateMinerInfo" (Response)
MINER_INFO = {
    "Owner": "f01234",
    "Worker": "f01234",
    "NewWorker": "f01234",
    "ControlAddresses": ["f01234"],
    "WorkerChangeEpoch": 10101,
    "PeerId": "12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf",
    "Multiaddrs": ["Ynl0ZSBhcnJheQ=="],
    "WindowPoStProofType": 8,
    "SectorSize": 34359738368,
    "WindowPoStPartitionSectors": 42,
    "ConsensusFaultElapsed": 10101,
    "PendingOwnerAddress": "f01234",
    "Beneficiary": "f01234",
    "BeneficiaryTerm": {"Quota": "0", "UsedQuota": "0", "Expiration": 10101},
    "PendingBeneficiaryTerm": {
        "NewBeneficiary": "f01234",
        "NewQuota": "0",
        "NewExpiration": 10101,
        "ApprovedByBeneficiary": True,
        "ApprovedByNominee": True,
    },
}

# "### StateMinerProvingDeadline" (Response)
PROVING_DEADLINE = {
    "CurrentEpoch": 10101,
    "PeriodStart": 10101,
    "Index": 42,
    "Open": 10101,
    "Close": 10101,
    "Challenge": 10101,
    "FaultCutoff": 10101,
    "WPoStPeriodDeadlines": 42,
    "WPoStProvingPeriod": 10101,
    "WPoStChallengeWindow": 10101,
    "WPoStChallengeLookback": 10101,
    "FaultDeclarationCutoff": 10101,
}

# "### StateMinerDeadlines" (Response: a list of these)
DEADLINE = {"PostSubmissions": [5, 1], "DisputableProofCount": 42, "DailyFee": "0"}

# "### StateMinerPartitions" (Response: a list of these)
PARTITION = {
    "AllSectors": [5, 1],
    "FaultySectors": [5, 1],
    "RecoveringSectors": [5, 1],
    "LiveSectors": [5, 1],
    "ActiveSectors": [5, 1],
}

# "### StateMinerPower" (Response)
MINER_POWER = {
    "MinerPower": {"RawBytePower": "0", "QualityAdjPower": "0"},
    "TotalPower": {"RawBytePower": "0", "QualityAdjPower": "0"},
    "HasMinPower": True,
}


def same_json(encoded: Any, documented: Any) -> None:
    """Equal values and the same key order, all the way down."""
    assert json.dumps(encoded) == json.dumps(documented)


def test_chain_head_decodes_and_encodes_back() -> None:
    head = TipSet.from_json(CHAIN_HEAD)
    assert head.height == 4863283
    assert head.key == ("bafy2bzacedo7hjsumaajt6sbor42qycvjyk6goqe4oi4o4ddsjxkdeqrqf42c",)
    assert head.timestamp == 1744204890
    (block,) = head.blocks
    assert block.miner == "f01938223"
    assert block.election_proof is not None and block.election_proof.win_count == 1
    assert [e.round for e in block.beacon_entries] == [17133822, 17133832]
    assert len(block.beacon_entries[0].data) == 48  # a drand signature
    assert block.win_post_proof[0].post_proof == 3
    assert len(block.parents) == 3
    assert block.parent_weight == 116013147118
    assert block.parent_base_fee == 20592036
    assert block.bls_aggregate is not None and block.bls_aggregate.type == 2
    same_json(head.to_json(), CHAIN_HEAD)


def test_a_genesis_block_has_null_pointers() -> None:
    block = copy.deepcopy(CHAIN_HEAD["Blocks"][0])
    for key in ("Ticket", "ElectionProof", "BLSAggregate", "BlockSig"):
        block[key] = None
    block["BeaconEntries"] = None  # a nil slice
    block["WinPoStProof"] = None
    block["Parents"] = []
    decoded = BlockHeader.from_json(block)
    assert decoded.ticket is None and decoded.election_proof is None
    assert decoded.beacon_entries == () and decoded.win_post_proof == ()
    assert BlockHeader.from_json(decoded.to_json()) == decoded


def test_version() -> None:
    version = Version.from_json(VERSION)
    assert version.api_version == 0x020300 and version.block_delay == 42
    same_json(version.to_json(), VERSION)


def test_miner_info() -> None:
    info = MinerInfo.from_json(MINER_INFO)
    assert info.owner == info.worker == info.beneficiary == "f01234"
    assert info.sector_size == 32 << 30
    assert info.window_post_proof_type == 8
    assert info.multiaddrs == (b"byte array",)
    assert info.beneficiary_term is not None and info.beneficiary_term.expiration == 10101
    assert info.pending_beneficiary_term is not None
    assert info.pending_beneficiary_term.approved_by_nominee is True
    same_json(info.to_json(), MINER_INFO)


def test_miner_info_without_pending_changes() -> None:
    # What a node sends for a miner with no pending worker/owner/beneficiary change: the Go
    # zero values (address.Undef is "<empty>", nil pointers and slices are null).
    shape = dict(
        MINER_INFO,
        NewWorker="<empty>",
        WorkerChangeEpoch=-1,
        PeerId=None,
        Multiaddrs=None,
        ControlAddresses=None,
        PendingOwnerAddress=None,
        PendingBeneficiaryTerm=None,
    )
    info = MinerInfo.from_json(shape)
    assert info.new_worker is None and info.pending_owner_address is None
    assert info.peer_id is None and info.multiaddrs == () and info.control_addresses == ()
    encoded = info.to_json()
    assert encoded["NewWorker"] == "<empty>" and encoded["PendingOwnerAddress"] is None
    assert MinerInfo.from_json(encoded) == info


def test_proving_deadline() -> None:
    info = DeadlineInfo.from_json(PROVING_DEADLINE)
    assert info.index == 42 and info.wpost_period_deadlines == 42
    same_json(info.to_json(), PROVING_DEADLINE)


def test_proving_deadline_properties_follow_dline() -> None:
    # lotus #4635's log (see the domain reference): PS 3993, index 47, current 6818
    info = DeadlineInfo(6818, 3993, 47, 6813, 6873, 6793, 6743, 48, 2880, 60, 20, 70)
    assert info.is_open and not info.has_elapsed and info.fault_cutoff_passed
    assert info.period_end == 3993 + 2879 and info.next_period_start == 3993 + 2880


def test_deadline_and_partition_bitfields() -> None:
    deadline = Deadline.from_json(DEADLINE)
    assert deadline.post_submissions == BitField.of([5])
    assert deadline.disputable_proof_count == 42 and deadline.daily_fee == 0
    same_json(deadline.to_json(), DEADLINE)
    partition = Partition.from_json(PARTITION)
    assert list(partition.all_sectors) == [5] == list(partition.active_sectors)
    same_json(partition.to_json(), PARTITION)


def test_a_deadline_from_a_node_before_daily_fees_decodes() -> None:
    older = {k: v for k, v in DEADLINE.items() if k != "DailyFee"}
    assert Deadline.from_json(older).daily_fee == 0


def test_miner_power() -> None:
    power = MinerPower.from_json(MINER_POWER)
    assert power.miner_power.raw_byte_power == 0 and power.has_min_power
    same_json(power.to_json(), MINER_POWER)
    big = dict(MINER_POWER, MinerPower={"RawBytePower": "1" + "0" * 30, "QualityAdjPower": "7"})
    assert MinerPower.from_json(big).miner_power.raw_byte_power == 10**30


def test_unknown_fields_are_ignored() -> None:
    newer = dict(PROVING_DEADLINE, SomeFutureField=[1, 2])
    assert DeadlineInfo.from_json(newer) == DeadlineInfo.from_json(PROVING_DEADLINE)


@pytest.mark.parametrize(
    ("change", "where", "says"),
    [
        (lambda b: b.pop("Height"), "ChainHead.Blocks[0]", "missing field 'Height'"),
        (lambda b: b.update(Height="12"), "ChainHead.Blocks[0].Height", "expected an integer"),
        (lambda b: b.update(Height=1.5), "ChainHead.Blocks[0].Height", "expected an integer"),
        (
            lambda b: b.update(ParentWeight=116013147118),
            "ChainHead.Blocks[0].ParentWeight",
            "expected a string",
        ),
        (
            lambda b: b.update(ParentBaseFee="1e6"),
            "ChainHead.Blocks[0].ParentBaseFee",
            "decimal integer",
        ),
        (
            lambda b: b.update(Messages="bafy2bzacebzofmh6"),
            "ChainHead.Blocks[0].Messages",
            "expected an object",
        ),
        (
            lambda b: b.update(Parents=[{"/": "not a cid!"}]),
            "ChainHead.Blocks[0].Parents[0]",
            "is not a CID",
        ),
        (
            lambda b: b.update(Ticket={"VRFProof": "%%%"}),
            "ChainHead.Blocks[0].Ticket.VRFProof",
            "base64",
        ),
        (lambda b: b.update(Miner="<empty>"), "ChainHead.Blocks[0].Miner", "unset"),
        (lambda b: b.update(Miner="x01"), "ChainHead.Blocks[0].Miner", "Filecoin address"),
    ],
)
def test_a_malformed_answer_names_the_field(change: Any, where: str, says: str) -> None:
    head = copy.deepcopy(CHAIN_HEAD)
    change(head["Blocks"][0])
    with pytest.raises(LotusDecodeError) as caught:
        TipSet.from_json(head, "ChainHead")
    assert str(caught.value).startswith(where + ":")
    assert says in str(caught.value)


def test_numbers_are_range_checked() -> None:
    too_big = dict(PROVING_DEADLINE, Index=1 << 63)
    with pytest.raises(LotusDecodeError, match="out of range for int64"):
        DeadlineInfo.from_json(too_big)
    negative = dict(MINER_INFO, SectorSize=-1)
    with pytest.raises(LotusDecodeError, match="out of range for uint64"):
        MinerInfo.from_json(negative)


def test_base64_is_standard_with_padding() -> None:
    data = bytes(range(7))
    shape = dict(MINER_INFO, Multiaddrs=[base64.b64encode(data).decode()])
    assert MinerInfo.from_json(shape).multiaddrs == (data,)
    with pytest.raises(LotusDecodeError, match="base64"):
        MinerInfo.from_json(dict(MINER_INFO, Multiaddrs=["AAECAwQFBg"]))  # padding missing
