"""Binary SHA-256-trunc254 trees: on-disk builds equal in-memory trees; proofs verify."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from engine.proofs.errors import SectorFileCorrupt, SectorFileMissing, SectorFileTruncated
from engine.proofs.hashing import h, hash_level
from engine.proofs.merkle import (
    InclusionProof,
    TreeBuilder,
    TreeReader,
    build_tree_file,
    level_offsets,
    prove,
    prove_in_memory,
    tree_file_size,
    tree_levels,
    tree_root,
    verify,
)


def leaves(count: int, seed: int = 0) -> bytes:
    data = bytearray(random.Random(seed).randbytes(32 * count))
    data[31::32] = bytes(b & 0x3F for b in data[31::32])
    return bytes(data)


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def test_a_level_hash_is_the_node_hash_of_each_pair() -> None:
    data = leaves(8)
    level = hash_level(data)
    assert [level[i : i + 32] for i in range(0, 128, 32)] == [
        h(data[i : i + 32], data[i + 32 : i + 64]) for i in range(0, 256, 64)
    ]
    assert all(level[i] < 0x40 for i in range(31, 128, 32))


@pytest.mark.parametrize("chunk_bytes", [64, 128, 1024, 1 << 20])
def test_tree_built_from_a_file_in_chunks_equals_the_in_memory_tree(
    tmp_path: Path, chunk_bytes: int
) -> None:
    data = leaves(256, seed=chunk_bytes)
    src = write(tmp_path / "leaves", data)
    dst = str(tmp_path / "tree")
    root = build_tree_file(src, dst, chunk_bytes=chunk_bytes)
    levels = tree_levels(data)
    assert root == levels[-1]
    assert Path(dst).read_bytes() == b"".join(levels[1:])
    assert os.path.getsize(dst) == tree_file_size(256)
    assert tree_root(dst) == root


def test_level_offsets_point_at_each_level_in_the_tree_file() -> None:
    assert level_offsets(8) == [-1, 0, 4 * 32, 6 * 32]


def test_every_leaf_proof_from_disk_verifies_and_matches_the_in_memory_proof(
    tmp_path: Path,
) -> None:
    data = leaves(64, seed=3)
    src = write(tmp_path / "leaves", data)
    dst = str(tmp_path / "tree")
    root = build_tree_file(src, dst, chunk_bytes=256)
    levels = tree_levels(data)
    with TreeReader(src, dst) as reader:
        assert reader.height == 6 and reader.root == root
        for i in range(64):
            proof = reader.prove(i)
            assert proof == prove_in_memory(levels, i)
            assert verify(root, proof, height=6, index=i)
    assert prove(src, dst, 5) == prove_in_memory(levels, 5)


def test_tampered_proofs_fail_verification() -> None:
    levels = tree_levels(leaves(16, seed=4))
    root = levels[-1]
    good = prove_in_memory(levels, 9)
    assert verify(root, good, height=4, index=9)
    flipped_leaf = InclusionProof(9, bytes([good.leaf[0] ^ 1]) + good.leaf[1:], good.siblings)
    flipped_sibling = InclusionProof(
        9, good.leaf, (good.siblings[0], bytes(32), *good.siblings[2:])
    )
    other_index = InclusionProof(8, good.leaf, good.siblings)
    short_path = InclusionProof(9 & 0b111, good.leaf, good.siblings[:3])
    assert not verify(root, flipped_leaf)
    assert not verify(root, flipped_sibling)
    assert not verify(root, other_index)
    assert not verify(root, good, index=8)
    assert not verify(root, good, height=5)
    assert not verify(root, short_path, height=4)
    assert not verify(root, InclusionProof(16, good.leaf, good.siblings))
    assert not verify(root, InclusionProof(9, good.leaf[:31], good.siblings))


def test_a_subtree_root_cannot_pass_for_the_tree_when_the_height_is_checked() -> None:
    levels = tree_levels(leaves(16, seed=5))
    sub = prove_in_memory(levels, 0)
    # Claim that the level-1 node is a "leaf" of a 3-level tree: right root, wrong height.
    forged = InclusionProof(0, levels[1][:32], sub.siblings[1:])
    assert verify(levels[-1], forged)
    assert not verify(levels[-1], forged, height=4)


def test_inclusion_proofs_round_trip_through_bytes() -> None:
    proof = prove_in_memory(tree_levels(leaves(32, seed=6)), 17)
    raw = proof.to_bytes()
    assert InclusionProof.from_bytes(raw) == (proof, len(raw))


def test_a_failed_build_publishes_nothing_and_leaves_no_temp_file(tmp_path: Path) -> None:
    src = write(tmp_path / "leaves", leaves(64))
    dst = tmp_path / "tree"
    dst.write_bytes(b"previous tree")
    with pytest.raises(SectorFileTruncated, match="leaf file has"):
        # claims twice the leaves the file holds: fails after the first chunks were written
        build_tree_file(src, str(dst), leaf_count=128, chunk_bytes=256)
    assert dst.read_bytes() == b"previous tree"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leaves", "tree"]


def test_builder_left_without_finish_removes_its_temp_file(tmp_path: Path) -> None:
    with TreeBuilder(str(tmp_path / "tree"), 8) as builder:
        builder.add(leaves(4))
    assert list(tmp_path.iterdir()) == []


def test_builder_without_a_path_only_computes_the_root() -> None:
    data = leaves(128, seed=8)
    with TreeBuilder(None, 128, chunk_bytes=512) as builder:
        for off in range(0, len(data), 96):
            builder.add(data[off : off + 96])
        assert builder.finish() == tree_levels(data)[-1]


def test_a_leaf_file_that_is_not_a_power_of_two_is_refused(tmp_path: Path) -> None:
    src = write(tmp_path / "leaves", leaves(3))
    with pytest.raises(SectorFileCorrupt, match="power-of-two"):
        build_tree_file(src, str(tmp_path / "tree"))
    with pytest.raises(SectorFileMissing):
        build_tree_file(str(tmp_path / "absent"), str(tmp_path / "tree"))


def test_reader_rejects_a_leaf_file_that_does_not_match_the_tree(tmp_path: Path) -> None:
    data = leaves(16)
    src = write(tmp_path / "leaves", data)
    dst = str(tmp_path / "tree")
    build_tree_file(src, dst)
    write(tmp_path / "leaves", data[:-32])
    with pytest.raises(SectorFileTruncated, match="leaves"):
        TreeReader(src, dst)
    with pytest.raises(SectorFileMissing, match="tree file is missing"):
        TreeReader(src, str(tmp_path / "nope"))
    with pytest.raises(SectorFileTruncated, match="tree file"):
        TreeReader(src, dst, leaf_count=32)
