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

from engine.lazy import lazy_exports

__all__ = lazy_exports(
    __name__,
    {
        "fr32": [
            "fr32",
        ],
        "bench": [
            "COMMP_TARGET_RATIO",
            "run_bench",
        ],
        "cache_files": [
            "PAux",
            "TAux",
            "read_p_aux",
            "read_t_aux",
        ],
        "challenges": [
            "clear_top_bits",
            "porep_challenges",
            "post_challenge_leaf",
            "post_challenges",
            "prover_id",
            "winning_sector_index",
            "winning_sector_indices",
        ],
        "cid": [
            "sealed_cid",
            "sealed_cid_to_commitment",
            "unsealed_cid",
            "unsealed_cid_to_commitment",
        ],
        "commp": [
            "ZERO_COMMS",
            "commd_from_pieces",
            "commp",
            "commp_file",
            "zero_comm",
        ],
        "errors": [
            "InvalidCID",
            "InvalidPieceError",
            "ProofError",
            "SectorFileCorrupt",
            "SectorFileError",
            "SectorFileMissing",
            "SectorFileTruncated",
            "SectorFileUnreadable",
            "UnsupportedSectorSize",
        ],
        "field": [
            "FIELD_MODULUS",
        ],
        "hashing": [
            "h",
            "sha256_trunc254",
            "trunc254",
        ],
        "labels": [
            "replica_id",
        ],
        "merkle": [
            "InclusionProof",
            "TreeBuilder",
            "TreeReader",
            "build_tree_file",
            "tree_levels",
            "tree_root",
            "prove_inclusion=prove",
            "verify_inclusion=verify",
        ],
        "porep": [
            "PoRepProof",
            "porep_failure",
            "prove_porep",
            "verify_porep",
        ],
        "post": [
            "PostSector",
            "SectorFault",
            "SectorPostProof",
            "WindowPostResult",
            "WinningPostProof",
            "check_sector",
            "generate_window_post",
            "generate_winning_post",
            "partition_sectors",
            "prove_sector",
            "sector_proof_failure",
            "verify_sector_proof",
            "verify_window_post",
            "verify_winning_post",
        ],
        "sdr": [
            "SdrResult",
            "SealResult",
            "TreeRCResult",
            "finalize",
            "sdr",
            "seal",
            "tree_d",
            "tree_rc",
            "unseal",
            "write_cc_unsealed",
        ],
        "sizes": [
            "SEALABLE_SIZES",
            "SECTOR_2KIB",
            "SECTOR_8MIB",
            "SECTOR_32GIB",
            "SECTOR_64GIB",
            "SECTOR_512MIB",
            "WINDOW_POST_CHALLENGES",
            "WINNING_POST_CHALLENGES",
            "SectorSpec",
            "format_sector_size",
            "is_padded_piece_size",
            "padded_piece_size",
            "padded_size",
            "parse_sector_size",
            "sector_size_of_proof",
            "spec_for",
            "unpadded_size",
        ],
    },
)
