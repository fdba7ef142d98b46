"""CommP/CommD against published vectors: go-fil-commp-hashhash ``testdata/zero.txt`` and
``testdata/0xCC.txt``, and the 2 KiB / 8 MiB sector CommDs of go-commp-utils ``zerocomm``."""

from __future__ import annotations

import os
import random
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from engine.proofs import fr32
from engine.proofs.cid import unsealed_cid
from engine.proofs.commp import commd_from_pieces, commp, commp_file, zero_comm
from engine.proofs.errors import InvalidPieceError, SectorFileMissing
from engine.proofs.hashing import h, level_root
from engine.proofs.sizes import SECTOR_2KIB, SECTOR_8MIB, padded_piece_size

ZERO_VECTORS = [
    (128, "baga6ea4seaqdomn3tgwgrh3g532zopskstnbrd2n3sxfqbze7rxt7vqn7veigmy"),
    (256, "baga6ea4seaqgiktap34inmaex4wbs6cghlq5i2j2yd2bb2zndn5ep7ralzphkdy"),
    (512, "baga6ea4seaqfpirydiugkk7up5v666wkm6n6jlw6lby2wxht5mwaqekerdfykjq"),
    (1024, "baga6ea4seaqb66wjlfkrbye6uqoemcyxmqylwmrm235uclwfpsyx3ge2imidoly"),
]

CC_VECTORS = [
    (
        SECTOR_2KIB,
        "fc7e928296e516faade986b28f92d44a4f24b935485223376a799027bc18f833",
        "baga6ea4seaqpy7usqklokfx2vxuynmupslkeutzexe2uqurdg5vhtebhxqmpqmy",
    ),
    (
        SECTOR_8MIB,
        "65f29e5d98d246c38b388cfc06db1f6b021303c5a289000bdce832a9c3ec421c",
        "baga6ea4seaqgl4u6lwmnerwdrm4iz7ag3mpwwaqtapc2fciabpooqmvjypweeha",
    ),
]

CC_PAYLOADS = [
    (96, 128, "baga6ea4seaqhwcjhi4krhl3ht6dewnwevkpxbepxy7p7onwgz65t52typbsysby"),
    (127, 128, "baga6ea4seaqmfldjtozgne6adk7eve2vdxte7vzlivae7nzsbrawobo546zkijq"),
    (254, 256, "baga6ea4seaqkixbzz75uys2pcjbrbdilgjhmum72qm4xphrwav2iyel5oat4aka"),
    (508, 512, "baga6ea4seaqb6ckbupixkhwp7thgb52f4en222boppajkqk7gaomkpof3lh4cei"),
    (1024, 2048, "baga6ea4seaqdlpnhgsndrgjeu4p46hahlsr4lybg6du4d56ooppdpxhcofxeuoi"),
]


def test_zero_commitment_of_128_bytes_is_the_published_raw_value() -> None:
    raw = "3731bb99ac689f66eef5973e4a94da188f4ddcae580724fc6f3fd60dfd488333"
    assert zero_comm(128).hex() == raw


@pytest.mark.parametrize(("size", "cid"), ZERO_VECTORS)
def test_zero_commitment_cids_match_zero_txt(size: int, cid: str) -> None:
    assert unsealed_cid(zero_comm(size)) == cid


@pytest.mark.parametrize(("sector_size", "raw", "cid"), CC_VECTORS)
def test_cc_sector_commd_is_the_curio_seed_value(sector_size: int, raw: str, cid: str) -> None:
    comm_d = commd_from_pieces([], sector_size)
    assert comm_d.hex() == raw
    assert unsealed_cid(comm_d) == cid
    assert comm_d == zero_comm(sector_size)


@pytest.mark.parametrize(("payload", "padded", "cid"), CC_PAYLOADS)
def test_0xcc_payloads_match_the_hashhash_vectors(payload: int, padded: int, cid: str) -> None:
    assert padded_piece_size(payload) == padded
    assert unsealed_cid(commp(b"\xcc" * payload)) == cid


@pytest.mark.parametrize(("payload", "padded", "cid"), CC_PAYLOADS)
def test_commp_of_a_file_equals_the_vectors(
    tmp_path: Path, payload: int, padded: int, cid: str
) -> None:
    path = tmp_path / "piece"
    path.write_bytes(b"\xcc" * payload)
    assert unsealed_cid(commp_file(str(path))) == cid


def test_commp_is_the_plain_tree_root_of_the_zero_filled_padded_payload() -> None:
    data = random.Random(1).randbytes(3 * (1 << 20) + 12345)
    padded = fr32.pad(data)
    size = padded_piece_size(len(data))
    assert size == 4 << 20
    assert commp(data) == level_root(padded + bytes(size - len(padded)))


def test_payload_below_65_bytes_is_refused() -> None:
    with pytest.raises(InvalidPieceError, match="minimum 65"):
        commp(bytes(64))
    assert commp(bytes(65)) == zero_comm(128)


def test_commp_file_streams_and_equals_in_memory_commp(tmp_path: Path) -> None:
    data = random.Random(2).randbytes(2 * (1 << 20) + 999)
    path = tmp_path / "piece"
    path.write_bytes(data)
    assert commp_file(str(path)) == commp(data)


def test_missing_piece_file_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(SectorFileMissing, match="piece file is missing"):
        commp_file(str(tmp_path / "nope"))


def test_commp_split_over_a_process_pool_gives_the_same_root(tmp_path: Path) -> None:
    data = os.urandom(2 * (1 << 20))
    path = tmp_path / "piece"
    path.write_bytes(data)
    small = os.urandom(1 << 20)  # right half of its 2 MiB tree is all zeros
    with ProcessPoolExecutor(max_workers=2) as pool:
        assert commp(data, pool=pool) == commp(data)
        assert commp_file(str(path), pool=pool) == commp(data)
        assert commp(small, pool=pool) == commp(small)


def test_commd_of_one_full_size_piece_is_that_piece() -> None:
    comm = commp(b"\xcc" * 1024)
    assert commd_from_pieces([(comm, 2048)], SECTOR_2KIB) == comm


def test_commd_aligns_a_larger_piece_after_a_smaller_one_with_zero_pieces() -> None:
    a = commp(b"\x01" * 127)  # 128
    b = commp(b"\x02" * 508)  # 512
    z = zero_comm
    # layout: a@0 (128), zero 128 @128, zero 256 @256, b@512, zero 1024 @1024
    expected = h(h(h(a, z(128)), z(256)), b)
    expected = h(expected, z(1024))
    assert commd_from_pieces([(a, 128), (b, 512)], SECTOR_2KIB) == expected


def test_commd_equals_commp_of_the_concatenated_padded_pieces() -> None:
    rng = random.Random(5)
    p1 = rng.randbytes(254)
    p2 = rng.randbytes(127)
    p3 = rng.randbytes(508)
    sector = fr32.pad(p1) + fr32.pad(p2) + bytes(128) + fr32.pad(p3)
    sector += bytes(2048 - len(sector))
    pieces = [(commp(p1), 256), (commp(p2), 128), (commp(p3), 512)]
    assert commd_from_pieces(pieces, SECTOR_2KIB) == level_root(sector)


def test_commd_refuses_pieces_that_overflow_the_sector() -> None:
    comm = commp(bytes(1024))
    with pytest.raises(InvalidPieceError, match="more than"):
        commd_from_pieces([(comm, 2048), (comm, 2048)], SECTOR_2KIB)
    with pytest.raises(InvalidPieceError, match="power of two"):
        commd_from_pieces([(comm, 300)], SECTOR_2KIB)
