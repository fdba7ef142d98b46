"""Curio's skipped sectors, evaluated live (:func:`evaluate_live`): a ``wdpost_proofs`` row whose
``proof_params`` are the CBOR SubmitWindowedPoStParams Curio's WdPost task writes, one posted
partition skipping two sectors, raises ``partition-unreadable`` for that partition from 5
epochs after its deadline closed (Curio's finality buffer) while it is the partition's latest
proof (a day, until the deadline's next proof); a proof that skipped nothing raises nothing,
and one whose params do not decode is said as such without silencing the others.

The head is Curio's newest WinningPoSt round (``mining_tasks``); the round written here is
stamped an hour ahead of the clock, so the head read is its epoch exactly however slow the
machine (the estimate adds the 30 s epochs since a round, and none have passed).
"""

from __future__ import annotations

import pytest

from engine.alerts import Alert, evaluate_live
from support.curio_read import curio_session, owner_exec
from support.curio_schema import SP_ID, CurioCluster

#: deadline 10 of the period starting at 5320 closes at 5980 (60-epoch deadlines)
DEADLINE, PPS, CLOSE = 10, 5320, 5980
SUBJECT = f"t0{SP_ID} dl{DEADLINE} p0"
#: RLE+ of {3, 7}: 00, zeros first, 01+0011, 1, 01+0011, 1 (least significant bit first)
SKIPPED_3_7 = bytes([0b01110000, 0b00111010, 0b00000001])


def head(major: int, n: int) -> bytes:
    """A CBOR header (major type, argument), as cbor-gen writes it."""
    if n < 24:
        return bytes([major << 5 | n])
    size = 1 if n < 1 << 8 else 2 if n < 1 << 16 else 4 if n < 1 << 32 else 8
    return bytes([major << 5 | {1: 24, 2: 25, 4: 26, 8: 27}[size]]) + n.to_bytes(size, "big")


def post_params(deadline: int, partitions: list[tuple[int, bytes]]) -> bytes:
    """SubmitWindowedPoStParams: [Deadline, [[Index, Skipped] ...], [[PoStProof, ProofBytes]],
    ChainCommitEpoch, ChainCommitRand], one 192-byte StackedDrgWindow32GiBV1_1 (13) proof."""
    parts = b"".join(head(4, 2) + head(0, i) + head(2, len(s)) + s for i, s in partitions)
    proof = head(4, 1) + head(4, 2) + head(0, 13) + head(2, 192) + bytes(192)
    return (
        head(4, 5)
        + head(0, deadline)
        + head(4, len(partitions))
        + parts
        + proof
        + head(0, CLOSE - 80)
        + head(2, 32)
        + bytes(32)
    )


async def at_head(cluster: CurioCluster, epoch: int) -> None:
    """Curio's newest WinningPoSt round at ``epoch`` (see the module's docstring)."""
    await owner_exec(
        cluster,
        ("DELETE FROM mining_tasks WHERE task_id = 7001",),
        (
            "INSERT INTO mining_tasks (task_id, sp_id, epoch, base_compute_time) "
            "VALUES (7001, $1, $2, now() + interval '1 hour')",
            SP_ID,
            epoch,
        ),
    )


async def proof(
    cluster: CurioCluster,
    params: bytes,
    *,
    deadline: int = DEADLINE,
    partition: int = 0,
    period: int = PPS,
) -> None:
    """The row Curio's WdPost task inserts (submit_at/by_epoch: the deadline's Open and Close),
    sent by its WdPostSubmit."""
    close = CLOSE + 60 * (deadline - DEADLINE) + (period - PPS)
    await owner_exec(
        cluster,
        (
            "INSERT INTO wdpost_proofs (sp_id, proving_period_start, deadline, partition, "
            "submit_at_epoch, submit_by_epoch, proof_params, submit_task_id, message_cid) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            SP_ID,
            period,
            deadline,
            partition,
            close - 60,
            close,
            params,
            7100 + 10 * deadline + partition + (period - PPS),
            f"bafy2bzacewdpost{deadline}p{partition}e{period}",
        ),
    )


async def live(cluster: CurioCluster) -> list[Alert]:
    async with curio_session(cluster, read_only=True) as db:
        return await evaluate_live(db)


async def unreadable(cluster: CurioCluster) -> dict[str, Alert]:
    alerts = await live(cluster)
    assert [a for a in alerts if a.check == "alert-check"] == []
    return {a.subject: a for a in alerts if a.check == "partition-unreadable"}


async def test_a_recent_proof_that_skipped_sectors_alerts_for_its_partition(
    curio_db: CurioCluster,
) -> None:
    await at_head(curio_db, CLOSE + 20)
    # partition 0 skipped sectors 3 and 7; partition 1 of the same message skipped none
    await proof(curio_db, post_params(DEADLINE, [(0, SKIPPED_3_7), (1, b"")]))
    found = await unreadable(curio_db)
    assert list(found) == [SUBJECT]
    alert = found[SUBJECT]
    assert alert.severity == "warning"
    assert alert.links == {"miner": SP_ID, "deadline": DEADLINE, "partition": 0, "sectors": [3, 7]}
    assert (
        f"t0{SP_ID} deadline {DEADLINE} partition 0: its WindowPoSt (the deadline closed at "
        f"epoch {CLOSE}) skipped 2 sector(s) it could not read (3, 7)"
    ) in alert.message
    assert f"`curio cli storage find f0{SP_ID} SECTOR`" in alert.message
    assert f"/pages/sector/?sp=f0{SP_ID}&id=3" in alert.message
    assert f"`curio test window-post here --deadline {DEADLINE} --partition 0`" in alert.message
    assert "`sptool proving faults`" in alert.message
    # Curio records the proof again with nothing skipped: no alert
    await owner_exec(
        curio_db,
        (
            "UPDATE wdpost_proofs SET proof_params = $1 WHERE deadline = $2",
            post_params(DEADLINE, [(0, b""), (1, b"")]),
            DEADLINE,
        ),
    )
    assert await unreadable(curio_db) == {}


async def test_a_partition_s_latest_proof_counts_until_its_next(curio_db: CurioCluster) -> None:
    """Judged as Curio judges (5 epochs after the close), and kept while it is the partition's
    latest proof: a day of epochs, until the next proof of that deadline replaces it."""
    await proof(curio_db, post_params(DEADLINE, [(0, SKIPPED_3_7)]))
    # closed 4 epochs before the head: inside Curio's finality buffer, not judged yet
    await at_head(curio_db, CLOSE + 4)
    assert await unreadable(curio_db) == {}
    await at_head(curio_db, CLOSE + 5)
    assert list(await unreadable(curio_db)) == [SUBJECT]
    # an hour on (Curio's own alert, sent once, looks back 30 minutes): still the latest proof
    await at_head(curio_db, CLOSE + 120)
    assert list(await unreadable(curio_db)) == [SUBJECT]
    # the next period's proof of the deadline, all sectors read: judged, it replaces the old one
    await proof(curio_db, post_params(DEADLINE, [(0, b"")]), period=PPS + 2880)
    await at_head(curio_db, CLOSE + 2880 + 4)
    assert list(await unreadable(curio_db)) == [SUBJECT]
    await at_head(curio_db, CLOSE + 2880 + 5)
    assert await unreadable(curio_db) == {}


async def test_a_proof_a_day_old_and_not_followed_counts_no_more(curio_db: CurioCluster) -> None:
    await proof(curio_db, post_params(DEADLINE, [(0, SKIPPED_3_7)]))
    # no next proof (no machine proved the deadline since): counted until the next one would
    # have been judged, then wdpost-missed says the rest
    await at_head(curio_db, CLOSE + 2880 + 5)
    assert list(await unreadable(curio_db)) == [SUBJECT]
    await at_head(curio_db, CLOSE + 2880 + 6)
    assert await unreadable(curio_db) == {}


@pytest.mark.parametrize(
    ("params", "why"),
    [
        (b"\x82\x00", "an array of 2 where 5 fields belong"),
        (post_params(DEADLINE, [(0, b"\x01")]), "Partitions[0].Skipped: RLE+: not version 0"),
    ],
    ids=["cut-short", "bad-bitfield"],
)
async def test_a_proof_that_does_not_decode_is_said_and_the_others_still_read(
    curio_db: CurioCluster, params: bytes, why: str
) -> None:
    await at_head(curio_db, CLOSE + 20)
    others = {(a.check, a.subject) for a in await live(curio_db)}
    await proof(curio_db, params, partition=1)
    await proof(curio_db, post_params(DEADLINE, [(0, SKIPPED_3_7)]))
    found = await unreadable(curio_db)
    assert sorted(found) == [SUBJECT, f"t0{SP_ID} dl{DEADLINE} p1"]
    bad = found[f"t0{SP_ID} dl{DEADLINE} p1"]
    assert "does not decode (" in bad.message and f"{why})" in bad.message
    assert bad.links == {"miner": SP_ID, "deadline": DEADLINE, "partition": 1}
    assert "skipped 2 sector(s)" in found[SUBJECT].message
    # the other checks' alerts are as they were
    after = {(a.check, a.subject) for a in await live(curio_db)}
    assert {x for x in after if x[0] != "partition-unreadable"} == others


async def test_the_seeded_proof_skipped_nothing(curio_db: CurioCluster) -> None:
    """The fixture's own proof (deadline 4, closed at 4500) is read like any other once the head
    has passed its finality buffer: a minute and a half after seeding, every Curio test sees it."""
    await at_head(curio_db, 4520)
    assert await unreadable(curio_db) == {}
