"""The exit statuses a machine's process ends with, for supervisors (systemd, the console's
wrapper) and for the commands that document them: constants alone, so that a command's help can
name them without importing the engine."""

from __future__ import annotations

__all__ = ["EXIT_CRASHED", "EXIT_DB_UNREACHABLE", "EXIT_RESTART_REQUESTED"]

#: Exit status of a process whose engine hit an unexpected error in a background loop.
EXIT_CRASHED = 1

#: Exit status of a process that could not leave the cluster cleanly because the database did
#: not answer: its row still looks alive, and peers return its tasks once it has been silent for
#: the machine timeout.
EXIT_DB_UNREACHABLE = 3

#: Exit status asking the supervisor (systemd, the console's wrapper) to start the process again.
EXIT_RESTART_REQUESTED = 100
