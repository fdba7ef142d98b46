"""The package's public API: every exported name resolves, engine.proofs uses only stdlib."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import engine.proofs as proofs
from engine.proofs import run_bench
from engine.proofs.sizes import SECTOR_2KIB

PACKAGE = Path(proofs.__file__).parent


def test_every_exported_name_resolves() -> None:
    missing = [name for name in proofs.__all__ if not hasattr(proofs, name)]
    assert missing == []
    assert len(set(proofs.__all__)) == len(proofs.__all__)


def test_the_core_entry_points_are_exported() -> None:
    for name in (
        "commp",
        "commp_file",
        "commd_from_pieces",
        "unsealed_cid",
        "sealed_cid",
        "build_tree_file",
        "prove_inclusion",
        "verify_inclusion",
        "sdr",
        "tree_d",
        "tree_rc",
        "finalize",
        "unseal",
        "prove_porep",
        "verify_porep",
        "generate_window_post",
        "verify_window_post",
        "generate_winning_post",
        "verify_winning_post",
        "run_bench",
    ):
        assert name in proofs.__all__


def test_proofs_modules_import_only_the_standard_library_and_themselves() -> None:
    allowed = set(sys.stdlib_module_names) | {"engine", "__future__"}
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots = [node.module.split(".")[0]]
            else:
                continue
            assert set(roots) <= allowed, f"{path.name} imports {roots}"
            if "engine" in roots and isinstance(node, ast.ImportFrom):
                # its own modules, and the package-level lazy-export helper
                assert node.module.startswith("engine.proofs") or node.module == "engine.lazy"


def test_no_print_in_engine_code() -> None:
    for path in PACKAGE.glob("*.py"):
        calls = [
            n
            for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"
        ]
        assert calls == [], path.name


def test_bench_returns_figures_for_a_small_sector(tmp_path: Path) -> None:
    figures = run_bench(sizes=[SECTOR_2KIB], repeat=1, workdir=str(tmp_path))
    entry = figures["sizes"]["2KiB"]
    assert entry["raw_sha256"]["bytes"] == 2 * SECTOR_2KIB
    assert entry["commp"]["seconds"] > 0 and entry["commp"]["ratio_vs_raw"] > 0
    seal = entry["seal"]
    assert seal["porep_verified"] is True and seal["window_post_faults"] == 0
    assert seal["total_seconds"] == (
        seal["tree_d_seconds"] + seal["sdr_seconds"] + seal["tree_rc_seconds"]
    )
    assert list(tmp_path.iterdir()) == []
