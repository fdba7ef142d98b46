"""Output into a pipe that closed: ``harmony task list | head`` and a worker whose log reader
went away.

Python ignores SIGPIPE, so a write to a closed pipe raises :class:`BrokenPipeError` instead of
ending the process quietly the way other command-line tools end; and the buffered rest of the
output fails once more when the interpreter flushes at exit. A command gives up its output and
exits with the status a shell shows for a process ended by SIGPIPE. A worker logs to stdout; it
keeps working when its reader goes (a restarted log collector must not stop the machine's
tasks), and only its log lines are lost.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys

__all__ = ["EXIT_BROKEN_PIPE", "LogToStdout", "discard_stdout"]

#: 128 + SIGPIPE: what a shell reports for a process ended by a closed pipe
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE


def discard_stdout() -> None:
    """Point the stdout descriptor at /dev/null, so the interpreter's flush at exit (of what
    is still buffered) has somewhere to go instead of failing a second time."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


class LogToStdout(logging.StreamHandler):  # type: ignore[type-arg]
    """A stdout log handler that, once stdout is a closed pipe, stops writing to it instead of
    printing a "Logging error" traceback for every record that follows."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    def handleError(self, record: logging.LogRecord) -> None:
        if isinstance(sys.exc_info()[1], BrokenPipeError):
            discard_stdout()
            return
        super().handleError(record)
