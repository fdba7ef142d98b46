"""What an alert is: a check's finding (severity, subject, a message naming what to do), the
stored alert with its first-seen time and the operator's acknowledgement and mute, and the
thresholds the checks use.

Curio's alertmanager keeps one free-text string per check; here each finding has a subject
(a deadline's partition, a storage path on a host, a task type, a machine), so one problem is
acknowledged or muted without hiding another of the same check, and the console can link the
alert to the thing it is about.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["Alert", "AlertSettings", "Finding", "Severity"]


class Severity(enum.StrEnum):
    """``critical``: power or rewards are being lost (a missed deadline, a block not included);
    ``warning``: they will be unless someone acts (faults, a stale path, no room to seal);
    ``info``: worth knowing."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"critical": 0, "warning": 1, "info": 2}[self.value]


@dataclass(frozen=True)
class Finding:
    """One problem a check found now. ``subject`` identifies it within the check (the same
    problem found again keeps its alert and its first-seen time)."""

    check: str
    subject: str
    severity: Severity
    message: str
    links: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Alert:
    """A stored alert (``harmony_alerts``); in Curio mode one evaluated live (``id`` 0, never
    stored, neither acknowledged nor muted)."""

    id: int
    check: str
    subject: str
    severity: Severity
    message: str
    links: dict[str, Any]
    first_seen: datetime
    last_seen: datetime
    cleared_at: datetime | None = None
    acked_by: str | None = None
    acked_at: datetime | None = None
    muted_until: datetime | None = None
    muted_by: str | None = None

    @property
    def open(self) -> bool:
        return self.cleared_at is None

    def muted(self, now: datetime) -> bool:
        return self.muted_until is not None and self.muted_until > now

    def state(self, now: datetime) -> str:
        """``cleared``, ``muted``, ``acked`` or ``new`` (what the inbox shows)."""
        if self.cleared_at is not None:
            return "cleared"
        if self.muted(now):
            return "muted"
        return "acked" if self.acked_at is not None else "new"

    def needs_attention(self, now: datetime) -> bool:
        """Open, neither acknowledged nor muted: the header badge counts these, and only these
        are sent to the webhook as firing."""
        return self.open and self.acked_at is None and not self.muted(now)

    def to_json(self, now: datetime) -> dict[str, Any]:
        return {
            "id": self.id,
            "check": self.check,
            "subject": self.subject,
            "severity": str(self.severity),
            "state": self.state(now),
            "message": self.message,
            "links": self.links,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "cleared_at": self.cleared_at.isoformat() if self.cleared_at else None,
            "acked_by": self.acked_by,
            "acked_at": self.acked_at.isoformat() if self.acked_at else None,
            "muted_until": self.muted_until.isoformat() if self.muted_until else None,
            "muted_by": self.muted_by,
        }


@dataclass(frozen=True)
class AlertSettings:
    """Thresholds of the checks and the evaluator's interval (seconds unless named).

    Defaults follow Curio's alertmanager where it has one: every 5 minutes, task failures over
    30 minutes with more than 5 per type or machine, messages pending for more than an hour.
    """

    #: seconds between evaluations (Curio: 5 min)
    interval: float = 300.0
    #: the window of the task-failure counts (Curio: FullAlertInterval, 30 min)
    failure_window: float = 1800.0
    #: more than this many failed attempts of one type, or on one machine, in the window
    failure_count: int = 5
    #: how far back a missed deadline, a block not included, a final task failure alert
    recent: float = 86400.0
    #: a message in the pool (not landed) longer than this is stuck (Curio: 1 h)
    message_stuck: float = 3600.0
    #: the devnet chain's head older than this, while its clock says epochs passed
    head_stale: float = 300.0
    #: sealing work waiting for a storage path longer than this (since it was added) alerts:
    #: a pipeline sealing at capacity fills its paths with sectors in flight, and the tasks
    #: behind them wait their turn for minutes as a matter of course
    no_room_after: float = 900.0
    #: cleared alerts and history older than this are deleted (task history's default: 7 days)
    retention: float = 7 * 86400.0
    #: an alert lists at most this many sectors by number
    list_limit: int = 10
