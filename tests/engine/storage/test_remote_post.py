"""A WindowPoSt partition split across two hosts, proven whole by a third that holds none of
it: each sector's vanilla proof is made by the host holding its files (/remote/vanilla/single)
and verified by the prover. A host that stops serving leaves a visible fault naming its URL."""

from __future__ import annotations

import hashlib
from pathlib import Path

from engine.harmonydb import DB
from engine.proofs.post import verify_window_post
from engine.proofs.sizes import SECTOR_2KIB, WINDOW_POST_CHALLENGES, WINNING_POST_CHALLENGES
from engine.storage import SectorFileType, declare_sector, sector_file_path
from engine.storage.remote import StorageServer
from engine.tasks.window.files import locate, prove_elsewhere
from support.sealed import seal_into

FT = SectorFileType
MINER = 1000
RAND = hashlib.sha256(b"window post randomness").digest()


async def test_a_partition_split_across_hosts_is_proven_whole(
    db: DB, attach_dir, tmp_path: Path
) -> None:
    await db.exec(
        "INSERT INTO chain_miners (sp_id, sector_size, reg_seal_proof, proving_period_offset, "
        "created_epoch) VALUES ($1, $2, 0, 0, 0)",
        MINER,
        SECTOR_2KIB,
    )
    sectors, servers = [], {}
    for host, numbers in (("host-a", (1, 3)), ("host-b", (2,))):
        path = await attach_dir(host, host=host, can_store=True)
        for n in numbers:
            sectors.append(seal_into(path.local_path, n))
            for ft in (FT.SEALED, FT.CACHE):
                await declare_sector(db, path.storage_id, MINER, n, ft, sector_size=SECTOR_2KIB)
        servers[host] = StorageServer(db, host=host)
        await servers[host].start()
    sectors.sort(key=lambda s: s.sector_number)
    try:
        # host-c reaches none of the files: all are "missing" locally, all proven remotely.
        present, faults = await locate(db, "host-c", MINER, sectors)
        assert not present and [f.kind for f in faults] == ["missing"] * 3
        proofs, left = await prove_elsewhere(
            db, "host-c", MINER, sectors, faults, RAND, WINDOW_POST_CHALLENGES
        )
        assert left == []
        proofs.sort(key=lambda p: p.sector_id)
        listed = [(s.sector_number, s.comm_r) for s in sectors]
        assert verify_window_post(listed, RAND, proofs, SECTOR_2KIB)

        # A WinningPoSt's 66 challenges, proven on host-a for host-b's asking.
        present, faults = await locate(db, "host-b", MINER, sectors[:1])
        [one], left = await prove_elsewhere(
            db, "host-b", MINER, sectors[:1], faults, RAND, WINNING_POST_CHALLENGES
        )
        assert left == [] and len(one.proofs) == WINNING_POST_CHALLENGES

        # host-b's server goes away: its sector is a visible fault naming the URL tried; the
        # others are still proven.
        b_url = servers["host-b"].url
        await servers["host-b"].stop(unregister=False)
        present, faults = await locate(db, "host-c", MINER, sectors)
        proofs, left = await prove_elsewhere(
            db, "host-c", MINER, sectors, faults, RAND, WINDOW_POST_CHALLENGES
        )
        assert sorted(p.sector_id for p in proofs) == [1, 3]
        [fault] = left
        assert fault.sector_id == 2 and fault.kind == "unreadable" and b_url in fault.detail

        # A damaged replica on host-a: the holding host reports it as a fault (corrupt).
        sealed = sector_file_path(tmp_path / "host-a", FT.SEALED, MINER, 3)
        sealed.write_bytes(bytes(SECTOR_2KIB))
        proofs, left = await prove_elsewhere(
            db, "host-c", MINER, sectors, faults, RAND, WINDOW_POST_CHALLENGES
        )
        assert [p.sector_id for p in proofs] == [1]
        assert {f.sector_id: f.kind for f in left} == {2: "unreadable", 3: "corrupt"}
        assert servers["host-a"].url in left[1].detail
    finally:
        for server in servers.values():
            await server.stop(unregister=False)
