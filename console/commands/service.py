"""``harmony service unit``: the systemd unit of a harmony worker, shipped with the package.

The unit (``console/deploy/harmony-worker.service``) is a file in the package, so what is
printed is what is tested (``systemd-analyze verify``); the command only fills in where this
``harmony`` is installed and which layers the machine runs with.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from importlib.resources import files

__all__ = ["register", "unit_text"]

UNIT = "harmony-worker.service"
SHIPPED_EXEC = "/usr/local/bin/harmony"
SHIPPED_LAYERS = "--layers base"


def register(sub: argparse._SubParsersAction) -> None:
    service = sub.add_parser(
        "service",
        help="files for running harmony under a service manager (systemd)",
        description="Files for running a harmony worker in production.",
    )
    actions = service.add_subparsers(dest="service_command", metavar="ACTION", required=True)
    unit = actions.add_parser(
        "unit",
        help="print the systemd unit of a worker",
        description="Print a systemd unit that runs `harmony run --engine-only` as the user "
        "harmony, with the database URL and password from /etc/harmony/worker.env (never on "
        "the command line), restarted when it exits 100 (a restart an operator asked for). "
        "Install: harmony service unit --layers base,seal > "
        "/etc/systemd/system/harmony-worker.service && systemctl enable --now harmony-worker",
    )
    unit.add_argument(
        "--layers",
        dest="unit_layers",
        metavar="LAYER,...",
        default="base",
        help="the config layers the machine runs with (default: base)",
    )
    unit.set_defaults(run=run)


def unit_text(executable: str | None = None, layers: str = "base") -> str:
    """The shipped unit, with ``ExecStart`` naming ``executable`` and ``layers``."""
    text = (files("console") / "deploy" / UNIT).read_text(encoding="utf-8")
    if executable:
        text = text.replace(f"ExecStart={SHIPPED_EXEC} ", f"ExecStart={executable} ")
    return text.replace(SHIPPED_LAYERS, f"--layers {layers}")


def _this_harmony() -> str | None:
    """The installed ``harmony`` this command runs from, if it is one."""
    found = shutil.which("harmony")
    here = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if here.endswith("/harmony") and os.access(here, os.X_OK):
        return here
    return os.path.abspath(found) if found else None


async def run(args: argparse.Namespace) -> int:
    layers = ",".join(n.strip() for n in args.unit_layers.split(",") if n.strip()) or "base"
    sys.stdout.write(unit_text(_this_harmony(), layers))
    return 0
