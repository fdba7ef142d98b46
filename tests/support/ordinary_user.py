"""Running a child Python as an ordinary (non-root) user from a root test run.

The interpreter a root test run uses often lives under ``/root`` (pyenv), which other users
cannot enter; harmony must never loosen that. So when needed, the standard library and the
interpreter are copied into a temporary directory everyone can read, and the child gets the
project's site-packages and checkout through PYTHONPATH.
"""

from __future__ import annotations

import os
import shutil
import site
import stat
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest

import engine
from engine.harmonydb.embedded import SERVER_USER_AS_ROOT, is_root

_SKIP_STDLIB = {
    "site-packages",
    "test",
    "idlelib",
    "tkinter",
    "turtledemo",
    "ensurepip",
    "lib2to3",
    "__pycache__",
}


def reachable(path: Path) -> bool:
    """Whether a user other than the owner can traverse every parent of ``path``."""
    return all(p.stat().st_mode & stat.S_IXOTH for p in path.resolve().parents)


def _copy_interpreter(dest: Path) -> Path:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    shutil.copytree(
        stdlib,
        dest / "lib" / stdlib.name,
        ignore=lambda d, names: [n for n in names if n in _SKIP_STDLIB],
    )
    libdir = sysconfig.get_config_var("LIBDIR")
    ldlib = sysconfig.get_config_var("INSTSONAME") or ""
    if libdir and ldlib and (Path(libdir) / ldlib).exists():
        shutil.copy2(Path(libdir) / ldlib, dest / "lib" / ldlib)
    (dest / "bin").mkdir()
    exe = dest / "bin" / "python3"
    shutil.copy2(Path(sys.executable).resolve(), exe)
    for path in [dest, *dest.rglob("*")]:
        path.chmod(path.stat().st_mode | (0o755 if path.is_dir() else 0o444))
    return exe


class OrdinaryUser:
    """How to start a Python child as a non-root user: ``argv`` prefix, ``env`` and ``user``."""

    def __init__(self) -> None:
        self.root: Path | None = None
        if not is_root():
            self.user: str | None = None
            self.python = sys.executable
            self.env = dict(os.environ)
            return
        self.user = SERVER_USER_AS_ROOT
        checkout = Path(engine.__file__).resolve().parents[1]
        packages = [Path(p) for p in site.getsitepackages()]
        if not reachable(checkout / "engine") or not all(reachable(p) for p in packages):
            pytest.skip(
                "the checkout or its venv is inside a private directory, which an "
                "ordinary user cannot enter"
            )
        if reachable(Path(sys.executable)):
            self.python = sys.executable
            self.env = dict(os.environ)
            return
        self.root = Path(tempfile.mkdtemp(prefix="harmony-python-"))
        self.root.chmod(0o755)
        self.python = str(_copy_interpreter(self.root))
        self.env = dict(
            os.environ,
            PYTHONHOME=str(self.root),
            PYTHONPATH=os.pathsep.join([str(checkout), *map(str, packages)]),
            LD_LIBRARY_PATH=str(self.root / "lib"),
        )

    def cleanup(self) -> None:
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
