"""WindowPoSt and WinningPoSt vanilla proofs over sealed 2 KiB sectors, and sector faults."""

from __future__ import annotations

import hashlib
import os
import random
from dataclasses import replace
from pathlib import Path

import pytest

from engine.proofs import fr32
from engine.proofs.cache_files import P_AUX, T_AUX
from engine.proofs.challenges import (
    clear_top_bits,
    post_challenges,
    prover_id,
    winning_sector_index,
)
from engine.proofs.errors import SectorFileCorrupt, SectorFileMissing, SectorFileTruncated
from engine.proofs.post import (
    PostSector,
    SectorPostProof,
    check_sector,
    generate_window_post,
    generate_winning_post,
    partition_sectors,
    prove_sector,
    sector_proof_failure,
    verify_sector_proof,
    verify_window_post,
    verify_winning_post,
)
from engine.proofs.sdr import finalize, seal
from engine.proofs.sizes import SECTOR_2KIB, WINDOW_POST_CHALLENGES, WINNING_POST_CHALLENGES

PROVER = prover_id(1000)
RAND = hashlib.sha256(b"chain randomness").digest()


def sealed(tmp_path: Path, sector_id: int) -> PostSector:
    root = tmp_path / f"s{sector_id}"
    root.mkdir()
    unsealed = root / "unsealed"
    unsealed.write_bytes(fr32.pad(random.Random(sector_id).randbytes(2032)))
    ticket = hashlib.sha256(b"ticket %d" % sector_id).digest()
    r = seal(
        str(unsealed),
        str(root / "sealed"),
        str(root / "cache"),
        SECTOR_2KIB,
        PROVER,
        sector_id,
        ticket,
    )
    return PostSector(sector_id, r.comm_r, str(root / "sealed"), str(root / "cache"))


def flip(path: str, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ 0x01]))


def ids_and_comms(sectors: list[PostSector]) -> list[tuple[int, bytes]]:
    return [(s.sector_id, s.comm_r) for s in sectors]


def test_window_post_over_a_partition_verifies(tmp_path: Path) -> None:
    sectors = [sealed(tmp_path, 1), sealed(tmp_path, 2)]
    result = generate_window_post(sectors, RAND)
    assert result.faults == ()
    assert [len(p.proofs) for p in result.proofs] == [WINDOW_POST_CHALLENGES] * 2
    assert verify_window_post(ids_and_comms(sectors), RAND, result.proofs, SECTOR_2KIB)
    other = hashlib.sha256(b"other").digest()
    assert not verify_window_post(ids_and_comms(sectors), other, result.proofs, SECTOR_2KIB)
    assert not verify_window_post(ids_and_comms(sectors), RAND, result.proofs[:1], SECTOR_2KIB)


def test_proofs_open_exactly_the_challenged_leaves(tmp_path: Path) -> None:
    s = sealed(tmp_path, 3)
    proof = prove_sector(s, RAND, WINDOW_POST_CHALLENGES)
    wanted = post_challenges(clear_top_bits(RAND), 3, WINDOW_POST_CHALLENGES, 64)
    assert [p.index for p in proof.proofs] == wanted
    assert all(len(p.siblings) == 6 for p in proof.proofs)


def test_the_top_bits_of_the_randomness_are_ignored(tmp_path: Path) -> None:
    s = sealed(tmp_path, 4)
    high = RAND[:31] + bytes([RAND[31] | 0xC0])
    assert prove_sector(s, high, 10) == prove_sector(s, clear_top_bits(RAND), 10)


def test_winning_post_picks_one_sector_and_proves_66_leaves(tmp_path: Path) -> None:
    sectors = [sealed(tmp_path, n) for n in (10, 11, 12)]
    won = generate_winning_post(PROVER, RAND, sectors)
    assert len(won.proof.proofs) == WINNING_POST_CHALLENGES
    assert won.proof.sector_id == sectors[won.sector_index].sector_id
    eligible = ids_and_comms(sectors)
    assert verify_winning_post(PROVER, RAND, eligible, won, SECTOR_2KIB)
    other = prover_id(1001)
    if winning_sector_index(other, clear_top_bits(RAND), 0, 3) != won.sector_index:
        assert not verify_winning_post(other, RAND, eligible, won, SECTOR_2KIB)
    wrong = replace(won, sector_index=(won.sector_index + 1) % 3)
    assert not verify_winning_post(PROVER, RAND, eligible, wrong, SECTOR_2KIB)


def test_the_verifier_checks_comm_r_index_and_path_length(tmp_path: Path) -> None:
    s = sealed(tmp_path, 5)
    proof = prove_sector(s, RAND, 10)

    def reason(p: SectorPostProof, comm_r: bytes = s.comm_r) -> str | None:
        return sector_proof_failure(5, comm_r, RAND, p, SECTOR_2KIB, 10)

    assert reason(proof) is None
    assert reason(proof, comm_r=bytes(32)) == "H(comm_c || comm_r_last) != comm_r"
    swapped = replace(proof, proofs=(proof.proofs[1], proof.proofs[0], *proof.proofs[2:]))
    if proof.proofs[0].index != proof.proofs[1].index:
        assert "challenge is leaf" in (reason(swapped) or "")
    cut = replace(proof.proofs[0], siblings=proof.proofs[0].siblings[:5])
    assert "path length 5 != height 6" in (
        reason(replace(proof, proofs=(cut, *proof.proofs[1:]))) or ""
    )
    assert "inclusion proofs" in (reason(replace(proof, proofs=proof.proofs[:9])) or "")
    assert not verify_sector_proof(6, s.comm_r, RAND, proof, SECTOR_2KIB)


def test_post_proofs_round_trip_through_bytes(tmp_path: Path) -> None:
    s = sealed(tmp_path, 6)
    proof = prove_sector(s, RAND, 10)
    assert SectorPostProof.from_bytes(proof.to_bytes()) == proof


def test_post_still_works_after_finalize(tmp_path: Path) -> None:
    s = sealed(tmp_path, 7)
    finalize(s.cache_dir)
    result = generate_window_post([s], RAND)
    assert result.faults == ()
    assert verify_window_post(ids_and_comms([s]), RAND, result.proofs, SECTOR_2KIB)


def test_a_flipped_byte_in_a_challenged_leaf_is_a_corrupt_fault(tmp_path: Path) -> None:
    bad, good = sealed(tmp_path, 8), sealed(tmp_path, 9)
    leaf = post_challenges(clear_top_bits(RAND), 8, 10, 64)[0]
    flip(bad.sealed_path, leaf * 32 + 5)
    result = generate_window_post([bad, good], RAND)
    assert [f.sector_id for f in result.faults] == [8]
    assert result.faults[0].kind == "corrupt"
    assert f"challenged leaf {leaf}" in result.faults[0].detail
    assert [p.sector_id for p in result.proofs] == [9]
    assert verify_window_post(ids_and_comms([good]), RAND, result.proofs, SECTOR_2KIB)
    # A prover that skips the check hands out a proof the verifier rejects.
    forced = prove_sector(bad, RAND, 10, check=False)
    reason = sector_proof_failure(8, bad.comm_r, RAND, forced, SECTOR_2KIB, 10)
    assert reason == f"challenge 0: leaf {leaf} does not lead to comm_r_last"


def test_a_flipped_byte_outside_the_challenges_goes_unnoticed_like_real_post(
    tmp_path: Path,
) -> None:
    s = sealed(tmp_path, 13)
    challenged = set(post_challenges(clear_top_bits(RAND), 13, 10, 64))
    spare = next(i for i in range(64) if i not in challenged and i ^ 1 not in challenged)
    flip(s.sealed_path, spare * 32)
    assert generate_window_post([s], RAND).faults == ()


def test_a_truncated_sealed_file_is_a_corrupt_fault_and_a_typed_error(tmp_path: Path) -> None:
    s = sealed(tmp_path, 14)
    os.truncate(s.sealed_path, 1024)
    (fault,) = generate_window_post([s], RAND).faults
    assert fault.kind == "corrupt"
    assert "1024 bytes, expected 2048" in fault.detail and s.sealed_path in fault.detail
    with pytest.raises(SectorFileTruncated):
        prove_sector(s, RAND, 10)


def test_a_deleted_sealed_file_is_a_missing_fault(tmp_path: Path) -> None:
    s, ok = sealed(tmp_path, 15), sealed(tmp_path, 16)
    os.unlink(s.sealed_path)
    result = generate_window_post([s, ok], RAND)
    (fault,) = result.faults
    assert (fault.sector_id, fault.kind) == (15, "missing")
    assert "leaf file is missing" in fault.detail
    assert len(result.proofs) == 1
    with pytest.raises(SectorFileMissing):
        prove_sector(s, RAND, 10)


def test_a_missing_cache_file_is_a_missing_fault(tmp_path: Path) -> None:
    s = sealed(tmp_path, 17)
    os.unlink(Path(s.cache_dir, P_AUX))
    fault = check_sector(s)
    assert fault is not None and fault.kind == "missing" and "p_aux" in fault.detail
    s2 = sealed(tmp_path, 18)
    os.unlink(Path(s2.cache_dir, T_AUX))
    fault = check_sector(s2)
    assert fault is not None and fault.kind == "missing" and "t_aux" in fault.detail


def test_a_cache_from_another_sector_is_corrupt(tmp_path: Path) -> None:
    a, b = sealed(tmp_path, 19), sealed(tmp_path, 20)
    mixed = replace(a, cache_dir=b.cache_dir)
    with pytest.raises(SectorFileCorrupt, match="p_aux does not hash"):
        prove_sector(mixed, RAND, 10)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_sealed_file_is_an_unreadable_fault(tmp_path: Path) -> None:
    s = sealed(tmp_path, 21)
    os.chmod(s.sealed_path, 0)
    (fault,) = generate_window_post([s], RAND).faults
    assert fault.kind == "unreadable"


def test_partitions_hold_two_small_sectors_each(tmp_path: Path) -> None:
    sectors = [PostSector(n, bytes(32), "", "") for n in range(5)]
    parts = partition_sectors(sectors, SECTOR_2KIB)
    assert [[s.sector_id for s in p] for p in parts] == [[0, 1], [2, 3], [4]]
