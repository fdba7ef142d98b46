"""``PoRep``: prove the replica against the interactive seed (Curio's C1 + C2), and check the
proof before the ProveCommit carries it to the chain.

The proof is made where the sector's unsealed file, replica and sealing cache are: on this host
when they are on one of its paths, else by the host that holds them, over its storage server
(``/remote/vanilla/porep``, Curio's route). The task prefers the holding host: it is taken on
another host only when the files are served and no live machine on a holding host runs PoRep
(:class:`~engine.tasks.storage.TaskStorage`). Either way the proof is verified here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.chain import interactive_randomness
from engine.proofs import (
    PoRepProof,
    porep_failure,
    prove_porep,
    prover_id,
    sealed_cid_to_commitment,
    unsealed_cid_to_commitment,
)
from engine.resources import MiB, Resources
from engine.storage import SectorFileType, SectorNotFound

from .files import local_files
from .pipeline import POREP
from .stage import SectorRow, StageTask

if TYPE_CHECKING:
    from engine.harmonydb import DB
    from engine.harmonytask import StillOwned, TaskID

__all__ = ["SEED_CONFIDENCE", "PoRepTask", "prove_porep_elsewhere"]

#: Epochs past the seed epoch before PoRep starts (Curio's ``seedEpochConfidence``).
SEED_CONFIDENCE = 3

#: seconds a remote PoRep proof may take before its host is given up on
POREP_READ_TIMEOUT = 600.0

U, S, C = SectorFileType.UNSEALED, SectorFileType.SEALED, SectorFileType.CACHE


class PoRepTask(StageTask):
    stage = POREP
    # Curio: GPU SNARK with ~190 GiB for 32 GiB sectors; devnet vanilla proofs: one core.
    cost = Resources(cpu=1, ram=256 * MiB)
    max_failures = 5
    reads = U | S | C
    reads_remotely = True  # proven by the holding host when no machine there runs PoRep

    async def run(self, task_id: TaskID, row: SectorRow, still_owned: StillOwned) -> None:
        w = self.workload
        detail = await self.db.query_row(
            "SELECT seed_epoch, ticket_value, tree_d_cid, tree_r_cid FROM sectors_sdr_pipeline "
            "WHERE sp_id = $1 AND sector_number = $2",
            row.sp_id,
            row.sector_number,
        )
        seed_epoch = detail["seed_epoch"]
        await w.chain.wait_config()
        if w.chain.epoch() < seed_epoch:
            raise RuntimeError(f"the seed of epoch {seed_epoch} is not drawn yet")
        seed = interactive_randomness(await w.chain.beacon(seed_epoch), seed_epoch, row.sp_id)
        try:
            files = await local_files(self.db, w.host, row.sp_id, row.sector_number, U | S | C)
        except SectorNotFound:
            proof = await prove_porep_elsewhere(self.db, w.host, row.sp_id, row.sector_number, seed)
        else:
            proof = await w.pool.run(prove_porep, str(files[U]), str(files[S]), str(files[C]), seed)
        reason = await w.pool.run(
            porep_failure,
            sector_size=row.sector_size,
            prover_id=prover_id(row.sp_id),
            sector_number=row.sector_number,
            ticket=bytes(detail["ticket_value"]),
            comm_d=unsealed_cid_to_commitment(detail["tree_d_cid"]),
            comm_r=sealed_cid_to_commitment(detail["tree_r_cid"]),
            seed=seed,
            proof=proof,
        )
        if reason is not None:
            raise ValueError(f"the PoRep proof does not verify: {reason}")
        await self.db.exec(
            "UPDATE sectors_sdr_pipeline SET after_porep = TRUE, porep_proof = $3, "
            "seed_value = $4 WHERE sp_id = $1 AND sector_number = $2 AND task_id_porep = $5",
            row.sp_id,
            row.sector_number,
            proof.to_bytes(),
            seed,
            task_id,
        )


async def prove_porep_elsewhere(
    db: DB, host: str, sp_id: int, number: int, seed: bytes
) -> PoRepProof:
    """The sector's PoRep vanilla proof made by a host serving all its files (unverified: the
    caller checks it like its own).

    Raises:
        SectorNotFound: no storage server holds the unsealed file, replica and cache together.
        RemoteReadError: none of those servers answered (each URL and what happened).
        RuntimeError: a server has the files but could not prove them (its URL and why).
    """
    from engine.proofs import ProofError
    from engine.storage.remote import RemoteReader, serving_all

    urls = await serving_all(db, host, sp_id, number, U | S | C)
    if not urls:
        raise SectorNotFound(
            f"sector t0{sp_id}-{number}: no storage server holds its unsealed, sealed and cache "
            f"files together, and {host} does not have them all"
        )
    # The holding host reads its whole sealing cache before it answers: a 512 MiB sector's
    # proof can take minutes, so a silent connection is given that long (a dead host's is
    # refused or reset at once).
    reader = RemoteReader(db, read_timeout=POREP_READ_TIMEOUT)
    try:
        url, answer = await reader.vanilla_porep(urls, sp_id, number, seed)
    finally:
        await reader.close()
    if not isinstance(answer, bytes):
        raise RuntimeError(
            f"{url} could not prove sector t0{sp_id}-{number} ({answer.kind}): {answer.detail}"
        )
    try:
        return PoRepProof.from_bytes(answer)
    except ProofError as exc:
        raise ValueError(f"the PoRep proof from {url} is malformed: {exc}") from None
