"""How log records are written: ``text`` (the default, for people) or ``json`` (for shippers).

``--log-format json`` writes one JSON object per line: ``time`` (UTC, RFC 3339 with
milliseconds), ``level``, ``logger``, ``msg``, the ``machine`` this process runs as (where it
is one), the ``task_id`` and ``task_type`` of the task attempt that logged it (where there is
one), and ``exc`` (the traceback) where the record has one. Loki, Vector, Fluent Bit and
journald's JSON parsers take the lines as they are, without a pattern to maintain.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any, TypeVar

from engine.harmonydb.driver_log import OneLineDriverWarnings
from engine.harmonytask.log_context import current_task

__all__ = ["LOG_FORMATS", "TEXT_FORMAT", "JsonFormatter", "dress", "make_formatter"]

H = TypeVar("H", bound=logging.Handler)

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines in messages are escaped)."""

    def __init__(self, machine: str | None = None) -> None:
        super().__init__()
        self.machine = machine

    def format(self, record: logging.LogRecord) -> str:
        at = dt.datetime.fromtimestamp(record.created, tz=dt.UTC)
        line: dict[str, Any] = {
            "time": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if self.machine:
            line["machine"] = self.machine
        task = current_task()
        if task is not None:
            line["task_id"] = task.id
            line["task_type"] = task.type
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def make_formatter(log_format: str | None, machine: str | None = None) -> logging.Formatter:
    """The formatter for ``--log-format``; ``machine``: the identity a json line carries."""
    if log_format == "json":
        return JsonFormatter(machine)
    return logging.Formatter(TEXT_FORMAT)


def dress(handler: H, log_format: str | None, machine: str | None = None) -> H:
    """``handler`` with the ``--log-format`` formatter, and the driver's warnings in one line
    (:mod:`engine.harmonydb.driver_log`): every handler a command logs through."""
    handler.setFormatter(make_formatter(log_format, machine))
    handler.addFilter(OneLineDriverWarnings())
    return handler
