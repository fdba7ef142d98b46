"""``PoRep``: prove the replica against the interactive seed (Curio's C1 + C2), and check the
proof before the ProveCommit carries it to the chain."""

from __future__ import annotations

from engine.chain import interactive_randomness
from engine.harmonytask import StillOwned, TaskID
from engine.proofs import (
    porep_failure,
    prove_porep,
    prover_id,
    sealed_cid_to_commitment,
    unsealed_cid_to_commitment,
)
from engine.resources import MiB, Resources
from engine.storage import SectorFileType

from .files import local_files
from .pipeline import POREP
from .stage import SectorRow, StageTask

__all__ = ["SEED_CONFIDENCE", "PoRepTask"]

#: Epochs past the seed epoch before PoRep starts (Curio's ``seedEpochConfidence``).
SEED_CONFIDENCE = 3

U, S, C = SectorFileType.UNSEALED, SectorFileType.SEALED, SectorFileType.CACHE


class PoRepTask(StageTask):
    stage = POREP
    # Curio: GPU SNARK with ~190 GiB for 32 GiB sectors; devnet vanilla proofs: one core.
    cost = Resources(cpu=1, ram=256 * MiB)
    max_failures = 5
    reads = U | S | C

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
        files = await local_files(self.db, w.host, row.sp_id, row.sector_number, U | S | C)
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
