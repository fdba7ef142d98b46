"""The database driver's warnings in one line each.

asyncpg's pool logs every failed attempt to restore its connection floor as a WARNING with the
whole traceback, once per retry (1 s, doubling to 60 s) for as long as the server is gone. The
outage is what the engine already says in one line ("database unreachable for …"); thirty
lines of driver frames per retry bury it and give an operator nothing to act on. The filter
keeps the driver's sentence and the error, and drops the frames. Errors keep theirs: one that
is not an outage is a bug to report.
"""

from __future__ import annotations

import logging

__all__ = ["OneLineDriverWarnings"]

DRIVER = "asyncpg"


class OneLineDriverWarnings(logging.Filter):
    """For a handler: a driver warning carrying an exception becomes ``message: Error: text``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if (
            record.exc_info
            and record.levelno < logging.ERROR
            and (record.name == DRIVER or record.name.startswith(DRIVER + "."))
        ):
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()}: {type(exc).__name__}: {exc}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True
