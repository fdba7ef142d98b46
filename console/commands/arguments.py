"""Argument types that refuse impossible numbers where argparse reads them.

A ``--limit -1`` that reaches the database comes back as a raw SQL error (``LIMIT must not be
negative``); a ``--count 0`` adds nothing and says so only afterwards. Checked here, the
operator gets argparse's usage line and one sentence naming the option instead.
"""

from __future__ import annotations

import argparse
import math

__all__ = ["non_negative_int", "non_negative_seconds", "positive_int", "positive_seconds"]


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


def positive_int(text: str) -> int:
    """A count or limit: 1 or more."""
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """A count where 0 means "none" (``sectors pledge --auto 0`` stops auto-pledging)."""
    value = _whole(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def positive_seconds(text: str) -> float:
    """A duration or rate that must be more than 0."""
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def non_negative_seconds(text: str) -> float:
    """A duration where 0 has a meaning of its own (``--history-days 0`` keeps history)."""
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value
