"""Argument types that refuse impossible numbers where argparse reads them.

A ``--limit -1`` that reaches the database comes back as a raw SQL error (``LIMIT must not be
negative``); a ``--count 0`` adds nothing and says so only afterwards. Checked here, the
operator gets argparse's usage line and one sentence naming the option instead.
"""

from __future__ import annotations

import argparse
import math

__all__ = [
    "actor_id",
    "int32",
    "miner_address",
    "non_negative_int",
    "non_negative_number",
    "positive_int",
    "positive_number",
    "row_id",
    "sector_number",
    "task_count",
]

#: The widest values the columns behind these options hold (INTEGER, BIGINT): beyond them the
#: database answers with a raw "value out of int64 range".
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
#: Most tasks one ``task add`` writes (one statement, one transaction).
MAX_ADD = 1_000_000


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def _between(text: str, low: int, high: int) -> int:
    value = _whole(text)
    if value < low:
        raise argparse.ArgumentTypeError(f"must be {low} or more, got {value}")
    if value > high:
        raise argparse.ArgumentTypeError(f"must be at most {high}, got {value}")
    return value


def positive_int(text: str) -> int:
    """A count or limit: 1 or more."""
    return _between(text, 1, INT32_MAX)


def non_negative_int(text: str) -> int:
    """A count where 0 means "none" (``sectors pledge --auto 0`` stops auto-pledging)."""
    return _between(text, 0, INT32_MAX)


def int32(text: str) -> int:
    """A signed INTEGER column's value (``--priority``)."""
    return _between(text, -INT32_MAX - 1, INT32_MAX)


def task_count(text: str) -> int:
    """How many tasks one ``task add`` writes."""
    return _between(text, 1, MAX_ADD)


def row_id(text: str) -> int:
    """A BIGSERIAL id (a task's)."""
    return _between(text, 1, INT64_MAX)


def sector_number(text: str) -> int:
    return _between(text, 0, INT64_MAX)


def actor_id(text: str) -> int:
    """A chain actor id: an unsigned number that must also fit the BIGINT column."""
    return _between(text, 0, INT64_MAX)


def miner_address(text: str) -> str:
    """``f0<id>``/``t0<id>`` or a bare actor id, checked here and passed on as typed."""
    from engine.chain import parse_miner  # the chain package only when --miner is given

    try:
        sp_id = parse_miner(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not 0 <= sp_id <= INT64_MAX:
        raise argparse.ArgumentTypeError(f"no actor id is as large as {sp_id}")
    return text


def positive_number(text: str) -> float:
    """A duration, rate or timeout that must be more than 0."""
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def non_negative_number(text: str) -> float:
    """A duration where 0 has a meaning of its own (``--history-days 0`` keeps history)."""
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def fraction(text: str) -> float:
    """A share: 0 (none) to 1 (all)."""
    value = _number(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value
