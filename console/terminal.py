"""Leaving when the terminal goes away or a supervisor asks, with the exit status that says why.

No Textual here: the app passes the function that leaves (``App.exit``). ``harmony`` reads the
status afterwards to decide how to stop this process's engine: after SIGTERM it drains first,
after a hang-up it hands the running tasks back at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable

__all__ = ["EXIT_HANGUP", "EXIT_SIGTERM", "TerminalGuard"]

#: the conventional 128 + signal number
EXIT_HANGUP = 128 + signal.SIGHUP
EXIT_SIGTERM = 128 + signal.SIGTERM


class TerminalGuard:
    """SIGHUP (the SSH session went away) and SIGTERM (``kill``, a supervisor) make the console
    leave; so does stdin no longer being a terminal (a disconnect the signal did not report),
    which :meth:`check` looks for, or the app would spin on a dead terminal."""

    def __init__(self, leave: Callable[[int], object]) -> None:
        self._leave = leave
        self._installed = False

    def install(self) -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGHUP, self._leave, EXIT_HANGUP)
            loop.add_signal_handler(signal.SIGTERM, self._leave, EXIT_SIGTERM)
            self._installed = True

    def remove(self) -> None:
        if self._installed:
            with contextlib.suppress(Exception):
                loop = asyncio.get_running_loop()
                loop.remove_signal_handler(signal.SIGHUP)
                loop.remove_signal_handler(signal.SIGTERM)
            self._installed = False

    def check(self) -> None:
        """Leave if stdin is no terminal any more."""
        try:
            lost = not sys.stdin.isatty()
        except ValueError:  # stdin was closed
            lost = True
        if lost:
            self._leave(EXIT_HANGUP)
