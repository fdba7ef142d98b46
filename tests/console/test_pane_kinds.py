"""The panes' classes load when a pane is first made: the console's first frame imports the
first pane's module, not the other eight (with the engine's modules they read)."""

from __future__ import annotations

import json
import subprocess
import sys

from console.panes import PANE_KINDS, PANE_TITLES
from console.panes.base import Pane


def test_every_pane_has_its_class_in_key_order() -> None:
    assert list(PANE_KINDS) == list(PANE_TITLES)
    for name in PANE_TITLES:
        kind = PANE_KINDS[name]
        assert issubclass(kind, Pane)
        assert PANE_KINDS[name] is kind
    assert "nothing" not in PANE_KINDS


def test_the_app_imports_no_pane_before_it_makes_one() -> None:
    code = (
        "import sys, json, console.cli, console.app\n"
        "from console.app import PANE_KINDS\n"
        "assert 'alerts' in PANE_KINDS and len(PANE_KINDS) == 9\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('console.panes')"
        " or m in ('engine.alerts.checks', 'console.actions'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(done.stdout) == ["console.panes", "console.panes.base"]
