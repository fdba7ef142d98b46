"""Lazy package exports: nothing loads before it is used, and the public names stay the same."""

from __future__ import annotations

import subprocess
import sys

import pytest

import engine.proofs
import engine.storage


def run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout.strip()


def test_importing_a_package_loads_none_of_its_submodules() -> None:
    out = run(
        "import sys, engine.storage, engine.proofs; "
        "print(sorted(m for m in sys.modules if m.startswith(('engine.storage.', "
        "'engine.proofs.'))))"
    )
    assert out == "[]"


def test_a_name_loads_only_the_submodule_that_defines_it() -> None:
    out = run(
        "import sys; from engine.storage import size_str; "
        "print(sorted(m for m in sys.modules if m.startswith('engine.storage.')), "
        "size_str(2048))"
    )
    assert out == "['engine.storage.units'] 2 KiB"


def test_functions_named_like_their_module_stay_functions() -> None:
    out = run(
        "import engine.storage.redeclare, engine.proofs.commp; "
        "from engine.storage import redeclare; from engine.proofs import commp; "
        "print(callable(redeclare), type(redeclare).__name__, type(commp).__name__)"
    )
    assert out == "True function function"


def test_aliases_and_submodule_exports_resolve() -> None:
    from engine.proofs import fr32, prove_inclusion, verify_inclusion
    from engine.proofs.merkle import prove, verify

    assert (prove_inclusion, verify_inclusion) == (prove, verify)
    assert fr32.__name__ == "engine.proofs.fr32"


def test_every_public_name_resolves() -> None:
    for package in (engine.storage, engine.proofs):
        for name in package.__all__:
            assert getattr(package, name) is not None, f"{package.__name__}.{name}"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = engine.storage.nope
