"""The panes' classes load when a pane is first made: the console's first frame imports the
first pane's module, not the other eight (with the engine's modules they read)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from console.panes import PANE_KINDS, PANE_TITLES
from console.panes.base import Pane


def test_every_pane_has_its_class_in_key_order() -> None:
    assert list(PANE_KINDS) == list(PANE_TITLES)
    for name in PANE_TITLES:
        kind = PANE_KINDS[name]
        assert issubclass(kind, Pane)
        assert PANE_KINDS[name] is kind
    assert "nothing" not in PANE_KINDS
    with pytest.raises(KeyError):
        PANE_KINDS["nothing"]


def _imported(code: str, *names: str) -> list[str]:
    """Which of ``names`` (modules, or packages with their submodules) a fresh interpreter
    has imported after running ``code``."""
    probe = (
        f"import sys, json\n{code}\n"
        f"print(json.dumps(sorted(m for m in sys.modules if any("
        f"m == n or m.startswith(n + '.') for n in {list(names)!r}))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    return list(json.loads(done.stdout))


def test_the_app_imports_no_pane_before_it_makes_one() -> None:
    code = (
        "import console.cli, console.app\n"
        "from console.app import PANE_KINDS\n"
        "assert 'alerts' in PANE_KINDS and len(PANE_KINDS) == 9"
    )
    imported = _imported(code, "console.panes", "engine.alerts.checks", "console.actions")
    assert imported == ["console.panes", "console.panes.base"]


def test_the_first_frame_does_not_wait_for_the_snapshots_model() -> None:
    """The first pane (with its jobs table) is made before the first frame; the snapshot's
    records (dataclasses, with the storage and chain modules behind them) load with the
    first snapshot, after it."""
    code = (
        "import console.cli, console.app\n"
        "from console.panes import PANE_KINDS\n"
        "PANE_KINDS['machines']"
    )
    imported = _imported(code, "engine.snapshot.model", "engine.snapshot.pipeline")
    assert imported == []


def test_the_first_pane_asks_what_applies_without_loading_the_actions() -> None:
    """The machines pane's keys ask :mod:`console.offers`; the actions (the engine's admin API,
    Curio's machine statements) load when the operator first confirms one."""
    code = (
        "import console.cli, console.app\n"
        "from console.panes import PANE_KINDS\n"
        "PANE_KINDS['machines']"
    )
    assert _imported(code, "console.actions", "engine.curio", "engine.harmonytask.admin") == []
