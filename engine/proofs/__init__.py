"""Proofs: the storage-provider cryptography the task engine runs, in pure Python.

* Filecoin-exact: Fr32 padding (:mod:`fr32`), CommP/CommD, commitment CIDs, PoSt challenge
  derivation, sector sizes and proof-type numbers — all checked against published vectors.
* Devnet-only (not consensus-compatible): an SDR-style seal over SHA-256-trunc254 trees,
  PoRep and PoSt vanilla proofs over it. Real, verifiable work over real files whose cost
  grows with the sector size; Filecoin uses Poseidon trees and SNARKs instead.

Functions touch only the files whose paths they are given. CPU-heavy entry points
(``commp_file``, ``tree_d``, ``sdr``, ``tree_rc``, ``unseal``, ``prove_porep``,
``generate_window_post`` ...) are top-level functions over plain arguments, so a
``concurrent.futures.ProcessPoolExecutor`` can run them.

This ``__init__`` is the public API; the submodules are implementation detail except
:mod:`engine.proofs.fr32`, exported as a namespace (``fr32.pad``, ``fr32.unpad``).

Caveat: the functions ``commp`` and ``sdr`` share their names with the modules that define
them, and the package attribute is the function. ``from engine.proofs.sdr import tree_d``
works; ``import engine.proofs.sdr as m`` gives the function, not the module.
"""

from engine.proofs import fr32
from engine.proofs.bench import COMMP_TARGET_RATIO, run_bench
from engine.proofs.cache_files import PAux, TAux, read_p_aux, read_t_aux
from engine.proofs.challenges import (
    clear_top_bits,
    porep_challenges,
    post_challenge_leaf,
    post_challenges,
    prover_id,
    winning_sector_index,
    winning_sector_indices,
)
from engine.proofs.cid import (
    sealed_cid,
    sealed_cid_to_commitment,
    unsealed_cid,
    unsealed_cid_to_commitment,
)
from engine.proofs.commp import ZERO_COMMS, commd_from_pieces, commp, commp_file, zero_comm
from engine.proofs.errors import (
    InvalidCID,
    InvalidPieceError,
    ProofError,
    SectorFileCorrupt,
    SectorFileError,
    SectorFileMissing,
    SectorFileTruncated,
    SectorFileUnreadable,
    UnsupportedSectorSize,
)
from engine.proofs.field import FIELD_MODULUS
from engine.proofs.hashing import h, sha256_trunc254, trunc254
from engine.proofs.labels import replica_id
from engine.proofs.merkle import (
    InclusionProof,
    TreeBuilder,
    TreeReader,
    build_tree_file,
    tree_levels,
    tree_root,
)
from engine.proofs.merkle import prove as prove_inclusion
from engine.proofs.merkle import verify as verify_inclusion
from engine.proofs.porep import PoRepProof, porep_failure, prove_porep, verify_porep
from engine.proofs.post import (
    PostSector,
    SectorFault,
    SectorPostProof,
    WindowPostResult,
    WinningPostProof,
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
from engine.proofs.sdr import (
    SdrResult,
    SealResult,
    TreeRCResult,
    finalize,
    sdr,
    seal,
    tree_d,
    tree_rc,
    unseal,
    write_cc_unsealed,
)
from engine.proofs.sizes import (
    SEALABLE_SIZES,
    SECTOR_2KIB,
    SECTOR_8MIB,
    SECTOR_32GIB,
    SECTOR_64GIB,
    SECTOR_512MIB,
    WINDOW_POST_CHALLENGES,
    WINNING_POST_CHALLENGES,
    SectorSpec,
    format_sector_size,
    is_padded_piece_size,
    padded_piece_size,
    padded_size,
    parse_sector_size,
    sector_size_of_proof,
    spec_for,
    unpadded_size,
)

__all__ = [
    "COMMP_TARGET_RATIO",
    "FIELD_MODULUS",
    "SEALABLE_SIZES",
    "SECTOR_2KIB",
    "SECTOR_8MIB",
    "SECTOR_32GIB",
    "SECTOR_64GIB",
    "SECTOR_512MIB",
    "WINDOW_POST_CHALLENGES",
    "WINNING_POST_CHALLENGES",
    "ZERO_COMMS",
    "InclusionProof",
    "InvalidCID",
    "InvalidPieceError",
    "PAux",
    "PoRepProof",
    "PostSector",
    "ProofError",
    "SdrResult",
    "SealResult",
    "SectorFault",
    "SectorFileCorrupt",
    "SectorFileError",
    "SectorFileMissing",
    "SectorFileTruncated",
    "SectorFileUnreadable",
    "SectorPostProof",
    "SectorSpec",
    "TAux",
    "TreeBuilder",
    "TreeRCResult",
    "TreeReader",
    "UnsupportedSectorSize",
    "WindowPostResult",
    "WinningPostProof",
    "build_tree_file",
    "check_sector",
    "clear_top_bits",
    "commd_from_pieces",
    "commp",
    "commp_file",
    "finalize",
    "format_sector_size",
    "fr32",
    "generate_window_post",
    "generate_winning_post",
    "h",
    "is_padded_piece_size",
    "padded_piece_size",
    "padded_size",
    "parse_sector_size",
    "partition_sectors",
    "porep_challenges",
    "porep_failure",
    "post_challenge_leaf",
    "post_challenges",
    "prove_inclusion",
    "prove_porep",
    "prove_sector",
    "prover_id",
    "read_p_aux",
    "read_t_aux",
    "replica_id",
    "run_bench",
    "sdr",
    "seal",
    "sealed_cid",
    "sealed_cid_to_commitment",
    "sector_proof_failure",
    "sector_size_of_proof",
    "sha256_trunc254",
    "spec_for",
    "tree_d",
    "tree_levels",
    "tree_rc",
    "tree_root",
    "trunc254",
    "unpadded_size",
    "unseal",
    "unsealed_cid",
    "unsealed_cid_to_commitment",
    "verify_inclusion",
    "verify_porep",
    "verify_sector_proof",
    "verify_window_post",
    "verify_winning_post",
    "winning_sector_index",
    "winning_sector_indices",
    "write_cc_unsealed",
    "zero_comm",
]
