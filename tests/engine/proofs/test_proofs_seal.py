"""The devnet seal: stages, files, unseal, finalize, bad input, and PoRep over it."""

from __future__ import annotations

import hashlib
import os
import random
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from engine.proofs import fr32, graph
from engine.proofs.cache_files import (
    P_AUX,
    T_AUX,
    TREE_C,
    TREE_C_LEAVES,
    TREE_D,
    TREE_R_LAST,
    layer_file,
    read_p_aux,
    read_t_aux,
)
from engine.proofs.challenges import porep_challenges, prover_id
from engine.proofs.commp import commd_from_pieces, commp, zero_comm
from engine.proofs.errors import (
    SectorFileCorrupt,
    SectorFileMissing,
    SectorFileTruncated,
    UnsupportedSectorSize,
)
from engine.proofs.field import FIELD_MODULUS, decode_node, encode_node
from engine.proofs.hashing import h
from engine.proofs.labels import label
from engine.proofs.porep import PoRepProof, porep_failure, prove_porep
from engine.proofs.sdr import (
    finalize,
    sdr,
    seal,
    tree_d,
    tree_rc,
    unseal,
    write_cc_unsealed,
)
from engine.proofs.sizes import SECTOR_2KIB, SECTOR_8MIB, SECTOR_32GIB

PROVER = prover_id(1000)
TICKET = hashlib.sha256(b"ticket").digest()
SEED = hashlib.sha256(b"interactive seed").digest()
SECTOR_NUMBER = 7


@dataclass(frozen=True)
class Sector:
    unsealed: str
    sealed: str
    cache: str
    size: int
    comm_d: bytes
    comm_r: bytes
    replica_id: bytes


def make_sector(tmp_path: Path, size: int = SECTOR_2KIB, payload: bytes | None = None) -> Sector:
    tmp_path.mkdir(parents=True, exist_ok=True)
    unsealed = str(tmp_path / "unsealed")
    if payload is None:
        payload = random.Random(size).randbytes(size // 128 * 127)
    Path(unsealed).write_bytes(fr32.pad(payload).ljust(size, b"\x00"))
    sealed, cache = str(tmp_path / "sealed"), str(tmp_path / "cache")
    r = seal(unsealed, sealed, cache, size, PROVER, SECTOR_NUMBER, TICKET)
    return Sector(unsealed, sealed, cache, size, r.comm_d, r.comm_r, r.replica_id)


def porep_reason(s: Sector, proof: PoRepProof, **overrides: object) -> str | None:
    args: dict[str, object] = {
        "sector_size": s.size,
        "prover_id": PROVER,
        "sector_number": SECTOR_NUMBER,
        "ticket": TICKET,
        "comm_d": s.comm_d,
        "comm_r": s.comm_r,
        "seed": SEED,
        "proof": proof,
    }
    args.update(overrides)
    return porep_failure(**args)  # type: ignore[arg-type]


def flip(path: str, offset: int, mask: int = 0x01) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ mask]))


# ------------------------------------------------------------------ seal and unseal


def test_cc_sector_commd_is_the_zero_commitment_vector(tmp_path: Path) -> None:
    unsealed = str(tmp_path / "unsealed")
    write_cc_unsealed(unsealed, SECTOR_2KIB)
    comm_d = tree_d(unsealed, str(tmp_path / "cache"), SECTOR_2KIB)
    assert comm_d.hex() == "fc7e928296e516faade986b28f92d44a4f24b935485223376a799027bc18f833"
    assert comm_d == commd_from_pieces([], SECTOR_2KIB)


def test_tree_d_of_a_sector_with_pieces_equals_commd_from_their_commps(tmp_path: Path) -> None:
    a, b = random.Random(1).randbytes(508), random.Random(2).randbytes(1016)
    data = fr32.pad(a) + bytes(512) + fr32.pad(b)  # b is aligned to its own size
    unsealed = tmp_path / "unsealed"
    unsealed.write_bytes(data.ljust(SECTOR_2KIB, b"\x00"))
    pieces = [(commp(a), 512), (commp(b), 1024)]
    assert tree_d(str(unsealed), str(tmp_path / "c"), SECTOR_2KIB) == commd_from_pieces(
        pieces, SECTOR_2KIB
    )


def test_unseal_of_seal_returns_the_original_data(tmp_path: Path) -> None:
    s = make_sector(tmp_path)
    original = Path(s.unsealed).read_bytes()
    assert Path(s.sealed).read_bytes() != original
    out = str(tmp_path / "recovered")
    assert unseal(s.sealed, s.cache, out) == s.comm_d
    assert Path(out).read_bytes() == original


def test_unseal_after_finalize_regenerates_the_labels(tmp_path: Path) -> None:
    s = make_sector(tmp_path)
    finalize(s.cache)
    out = str(tmp_path / "recovered")
    unseal(s.sealed, s.cache, out)
    assert Path(out).read_bytes() == Path(s.unsealed).read_bytes()
    assert sorted(os.listdir(s.cache)) == sorted([P_AUX, T_AUX, TREE_R_LAST])


def test_the_replica_is_the_data_plus_the_last_layer_in_the_field(tmp_path: Path) -> None:
    s = make_sector(tmp_path)
    data = Path(s.unsealed).read_bytes()
    replica = Path(s.sealed).read_bytes()
    key = Path(s.cache, layer_file(2)).read_bytes()
    for i in range(0, SECTOR_2KIB, 32):
        node = replica[i : i + 32]
        assert int.from_bytes(node, "little") < FIELD_MODULUS
        assert node == encode_node(data[i : i + 32], key[i : i + 32])
        assert decode_node(node, key[i : i + 32]) == data[i : i + 32]


def test_field_addition_wraps_around_the_modulus() -> None:
    data = ((1 << 254) - 1).to_bytes(32, "little")
    key = ((1 << 254) - 5).to_bytes(32, "little")
    enc = encode_node(data, key)
    assert int.from_bytes(enc, "little") == (2 * (1 << 254) - 6) - FIELD_MODULUS
    assert decode_node(enc, key) == data


def test_labels_follow_the_parent_graph(tmp_path: Path) -> None:
    s = make_sector(tmp_path)
    layers = [Path(s.cache, layer_file(n)).read_bytes() for n in (1, 2)]
    seed = graph.graph_seed(SECTOR_2KIB)

    def lab(layer: int, i: int) -> bytes:
        return layers[layer - 1][32 * i : 32 * i + 32]

    for i in (0, 1, 2, 33, 63):
        base, expander = graph.parents(seed, 64, i)
        assert len(base) == (0 if i == 0 else 6) and len(expander) == 8
        assert all(p < i for p in base) and (not base or base[0] == i - 1)
        one = b"".join(lab(1, p) for p in base)
        assert lab(1, i) == label(s.replica_id, 1, i, one)
        two = b"".join(lab(2, p) for p in base) + b"".join(lab(1, p) for p in expander)
        assert lab(2, i) == label(s.replica_id, 2, i, two)


def test_stage_files_and_aux_records(tmp_path: Path) -> None:
    s = make_sector(tmp_path)
    names = set(os.listdir(s.cache))
    assert {layer_file(1), layer_file(2), TREE_C, TREE_C_LEAVES, TREE_D, TREE_R_LAST} <= names
    assert {P_AUX, T_AUX} <= names
    paux = read_p_aux(s.cache)
    assert h(paux.comm_c, paux.comm_r_last) == s.comm_r
    assert Path(s.cache, P_AUX).read_bytes() == paux.comm_c + paux.comm_r_last
    taux = read_t_aux(s.cache)
    assert (taux.sector_size, taux.layers, taux.comm_d) == (SECTOR_2KIB, 2, s.comm_d)
    assert taux.replica_id == s.replica_id


def test_sealing_is_deterministic_and_depends_on_the_ticket(tmp_path: Path) -> None:
    a = make_sector(tmp_path / "a")
    b = make_sector(tmp_path / "b")
    assert a.comm_r == b.comm_r
    unsealed = str(tmp_path / "a" / "unsealed")
    other = seal(
        unsealed,
        str(tmp_path / "s2"),
        str(tmp_path / "c2"),
        SECTOR_2KIB,
        PROVER,
        SECTOR_NUMBER,
        hashlib.sha256(b"other ticket").digest(),
    )
    assert other.comm_d == a.comm_d and other.comm_r != a.comm_r


def test_finalize_keeps_only_what_post_needs(tmp_path: Path) -> None:
    s = make_sector(tmp_path)
    removed = finalize(s.cache)
    assert set(removed) == {layer_file(1), layer_file(2), TREE_C, TREE_C_LEAVES, TREE_D}
    assert sorted(os.listdir(s.cache)) == sorted([P_AUX, T_AUX, TREE_R_LAST])
    assert finalize(s.cache) == ()


def test_stages_run_in_a_process_pool(tmp_path: Path) -> None:
    local = make_sector(tmp_path / "local")
    unsealed = local.unsealed
    cache, sealed = str(tmp_path / "pool-cache"), str(tmp_path / "pool-sealed")
    with ProcessPoolExecutor(max_workers=2) as pool:
        comm_d = pool.submit(tree_d, unsealed, cache, SECTOR_2KIB).result()
        pool.submit(sdr, cache, SECTOR_2KIB, PROVER, SECTOR_NUMBER, TICKET, comm_d).result()
        rc = pool.submit(tree_rc, unsealed, sealed, cache).result()
    assert (comm_d, rc.comm_r) == (local.comm_d, local.comm_r)


# ------------------------------------------------------------------ bad input


def test_unsupported_sector_sizes_are_refused_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedSectorSize, match="devnet seal"):
        sdr(str(tmp_path), SECTOR_32GIB, PROVER, 1, TICKET, zero_comm(SECTOR_32GIB))


def test_a_truncated_unsealed_file_is_a_typed_error(tmp_path: Path) -> None:
    unsealed = tmp_path / "unsealed"
    unsealed.write_bytes(bytes(SECTOR_2KIB - 32))
    with pytest.raises(SectorFileTruncated, match="unsealed file has 2016 bytes, expected 2048"):
        tree_d(str(unsealed), str(tmp_path / "cache"), SECTOR_2KIB)


def test_unsealed_data_that_is_not_fr32_padded_is_refused(tmp_path: Path) -> None:
    unsealed = tmp_path / "unsealed"
    raw = bytearray(SECTOR_2KIB)
    raw[5 * 32 + 31] = 0xFF
    unsealed.write_bytes(raw)
    cache = str(tmp_path / "cache")
    sdr(cache, SECTOR_2KIB, PROVER, 1, TICKET, zero_comm(SECTOR_2KIB))
    with pytest.raises(SectorFileCorrupt, match="node 5 is not an Fr32 field element"):
        tree_rc(str(unsealed), str(tmp_path / "sealed"), cache)
    assert not (tmp_path / "sealed").exists()


def test_a_flipped_replica_byte_makes_unseal_fail_loudly(tmp_path: Path) -> None:
    s = make_sector(tmp_path)
    flip(s.sealed, 100)
    out = tmp_path / "recovered"
    with pytest.raises(SectorFileCorrupt, match="CommD"):
        unseal(s.sealed, s.cache, str(out))
    assert not out.exists()


def test_a_truncated_sealed_file_makes_unseal_raise_truncated(tmp_path: Path) -> None:
    s = make_sector(tmp_path)
    os.truncate(s.sealed, 1000)
    with pytest.raises(SectorFileTruncated, match="sealed file has 1000 bytes, expected 2048"):
        unseal(s.sealed, s.cache, str(tmp_path / "recovered"))


def test_tree_rc_without_sdr_reports_the_missing_t_aux(tmp_path: Path) -> None:
    unsealed = tmp_path / "unsealed"
    unsealed.write_bytes(bytes(SECTOR_2KIB))
    with pytest.raises(SectorFileMissing, match="t_aux is missing"):
        tree_rc(str(unsealed), str(tmp_path / "sealed"), str(tmp_path / "cache"))


# ------------------------------------------------------------------ PoRep


def test_porep_proof_verifies_from_public_inputs(tmp_path: Path) -> None:
    s = make_sector(tmp_path)
    proof = prove_porep(s.unsealed, s.sealed, s.cache, SEED)
    assert len(proof.challenges) == 10
    assert porep_reason(s, proof) is None
    assert porep_reason(s, PoRepProof.from_bytes(proof.to_bytes())) is None


def test_porep_fails_for_other_public_inputs(tmp_path: Path) -> None:
    s = make_sector(tmp_path)
    proof = prove_porep(s.unsealed, s.sealed, s.cache, SEED)
    other = hashlib.sha256(b"x").digest()
    assert "challenged nodes" in (porep_reason(s, proof, seed=other) or "")
    assert "challenged nodes" in (porep_reason(s, proof, ticket=other) or "")
    assert porep_reason(s, proof, comm_r=other) == "H(comm_c || comm_r_last) != comm_r"
    assert porep_reason(s, proof, sector_number=8) is not None


def test_porep_fails_when_a_label_is_changed_in_the_proof(tmp_path: Path) -> None:
    s = make_sector(tmp_path)
    proof = prove_porep(s.unsealed, s.sealed, s.cache, SEED)
    first = proof.challenges[0]
    bad_labels = (first.column.labels[0], bytes(32))
    forged = replace(first, column=replace(first.column, labels=bad_labels))
    bad = replace(proof, challenges=(forged, *proof.challenges[1:]))
    assert "TreeC leaf" in (porep_reason(s, bad) or "")


def test_porep_fails_when_a_layer_file_byte_was_changed(tmp_path: Path) -> None:
    s = make_sector(tmp_path)
    node = porep_challenges(s.replica_id, SEED, 10, 64)[0]
    flip(str(Path(s.cache, layer_file(1))), node * 32 + 3)
    proof = prove_porep(s.unsealed, s.sealed, s.cache, SEED)
    assert "TreeC leaf" in (porep_reason(s, proof) or "")


def test_porep_fails_when_a_challenged_replica_byte_was_changed(tmp_path: Path) -> None:
    s = make_sector(tmp_path)
    node = porep_challenges(s.replica_id, SEED, 10, 64)[0]
    flip(s.sealed, node * 32)
    proof = prove_porep(s.unsealed, s.sealed, s.cache, SEED)
    assert f"replica node {node} is not in TreeR" == porep_reason(s, proof)


def test_porep_with_a_consistent_but_wrong_label_fails_the_label_check(tmp_path: Path) -> None:
    """Even a prover who rebuilds TreeC over a wrong label is caught by label recomputation."""
    s = make_sector(tmp_path)
    node = porep_challenges(s.replica_id, SEED, 10, 64)[0]
    flip(str(Path(s.cache, layer_file(2))), node * 32 + 7)
    # re-run TreeRC so TreeC, the replica, TreeR and comm_r are all consistent with the bad label
    rc = tree_rc(s.unsealed, s.sealed, s.cache)
    proof = prove_porep(s.unsealed, s.sealed, s.cache, SEED)
    reason = porep_reason(s, proof, comm_r=rc.comm_r)
    assert reason is not None and "layer 2 is not derived from its parents" in reason


def test_porep_after_finalize_reports_the_missing_layers(tmp_path: Path) -> None:
    s = make_sector(tmp_path)
    finalize(s.cache)
    with pytest.raises(SectorFileMissing):
        prove_porep(s.unsealed, s.sealed, s.cache, SEED)


# ------------------------------------------------------------------ 8 MiB


@pytest.mark.slow
def test_an_8mib_sector_seals_proves_and_unseals(tmp_path: Path) -> None:
    s = make_sector(tmp_path, SECTOR_8MIB, payload=os.urandom(SECTOR_8MIB // 128 * 127))
    proof = prove_porep(s.unsealed, s.sealed, s.cache, SEED)
    assert porep_reason(s, proof) is None
    out = str(tmp_path / "recovered")
    assert unseal(s.sealed, s.cache, out) == s.comm_d
    assert Path(out).read_bytes() == Path(s.unsealed).read_bytes()
