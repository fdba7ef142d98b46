"""PoRep of a sector whose files are on another host: the holding host makes the vanilla proof
(/remote/vanilla/porep, Curio's route) and the asking host verifies it. The task is taken away
from the holding host only when no machine there runs PoRep; a host that stops serving, or
files split so that no one host has them all, fail visibly."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from engine.harmonydb import DB
from engine.proofs import porep_failure, prover_id
from engine.proofs.sizes import SECTOR_2KIB
from engine.storage import SectorFileType, SectorNotFound, declare_sector
from engine.storage.remote import RemoteReadError, StorageServer
from engine.tasks.seal.porep import PoRepTask, prove_porep_elsewhere
from engine.tasks.storage import LocalFiles, PathStatesCache, TaskStorage
from support.sealed import seal_unfinalized, ticket_of

FT = SectorFileType
U, S, C = FT.UNSEALED, FT.SEALED, FT.CACHE
MINER, SECTOR = 1000, 4
SEED = hashlib.sha256(b"interactive seed").digest()


async def test_porep_of_a_sector_held_elsewhere_is_made_there_and_verified_here(
    db: DB, attach_dir, machine_factory, tmp_path: Path
) -> None:
    a = await attach_dir("a", host="host-a", can_seal=True)
    sealed = seal_unfinalized(a.local_path, SECTOR, MINER)
    for ft in (U, S, C):
        await declare_sector(db, a.storage_id, MINER, SECTOR, ft, sector_size=SECTOR_2KIB)
    server = StorageServer(db, host="host-a")
    await server.start()
    try:
        proof = await prove_porep_elsewhere(db, "host-b", MINER, SECTOR, SEED)
        assert (
            porep_failure(
                sector_size=SECTOR_2KIB,
                prover_id=prover_id(MINER),
                sector_number=SECTOR,
                ticket=ticket_of(SECTOR),
                comm_d=sealed.comm_d,
                comm_r=sealed.comm_r,
                seed=SEED,
                proof=proof,
            )
            is None
        )

        # Host B takes the PoRep task only while no live machine on host A runs PoRep.
        assert PoRepTask.reads_remotely
        storage = TaskStorage(
            db,
            PathStatesCache(db, "host-b"),
            _lookup,
            reads=U | S | C,
            remote_task="PoRep",
        )
        await storage.claim(1, 0)  # no machine on host A: read remotely
        holder = await machine_factory("host-a")
        await db.exec(
            "INSERT INTO harmony_machine_details (machine_id, tasks) VALUES ($1, 'SDR,PoRep')",
            holder.id,
        )
        with pytest.raises(LocalFiles, match="on another host, not host-b"):
            await storage.claim(1, 0)

        # Host A stops serving: the proof fails naming its URL.
        await server.stop(unregister=False)
        with pytest.raises(RemoteReadError, match=server.url or "?"):
            await prove_porep_elsewhere(db, "host-b", MINER, SECTOR, SEED)

        # The unsealed file moved to a host of its own: no one host can prove it.
        await server.start()
        other = await attach_dir("u-elsewhere", host="host-u", can_seal=True)
        await db.exec(
            "UPDATE sector_location SET storage_id = $1 WHERE sector_filetype = $2",
            other.storage_id,
            int(U),
        )
        with pytest.raises(SectorNotFound, match="no storage server holds its unsealed"):
            await prove_porep_elsewhere(db, "host-b", MINER, SECTOR, SEED)
    finally:
        await server.stop(unregister=False)


async def _lookup(_task_id: int) -> tuple[int, int, int]:
    return MINER, SECTOR, SECTOR_2KIB
