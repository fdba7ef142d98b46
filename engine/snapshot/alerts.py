"""The alerts a refresh knows: the header badge's count every time, the list while the Alerts
pane (or a screen over it) shows it.

Both come from :mod:`engine.alerts.store`, the very statements ``harmony alerts list`` (and
``--count``) runs, so the console and the CLI cannot disagree on what is open or what needs
attention. The count is one statement over the partial index of open alerts, bounded
(``ATTENTION_SCAN``); the list (``LIMIT``\\ ed, most severe and oldest first) is read only when
the ``"alerts"`` list is wanted, else carried over from the last refresh that read it.

A schema migrated before the alerts existed (a ``--read-only`` console never migrates) has no
``harmony_alerts`` table: the section says so and reads nothing, without failing the
refresh's transaction; once the table is there it is read as usual.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.alerts.model import Alert, Severity
from engine.alerts.store import ATTENTION_SCAN, attention_counts, list_alerts

__all__ = ["ALERTS_LIMIT", "AlertsCache", "AlertsSnap", "read_alerts"]

#: alerts the pane lists at most (the most severe and oldest)
ALERTS_LIMIT = 500

#: is the table there (never an error inside the refresh's transaction)
HAS_TABLE = "SELECT to_regclass('harmony_alerts') IS NOT NULL"

#: why a cluster without the table shows no alerts
NOT_MIGRATED = (
    "this schema has no alerts table yet: a console or `harmony run` that is not read-only "
    "migrates it"
)


@dataclass(frozen=True, eq=False)
class AlertsSnap:
    """Open alerts: the count needing attention per severity (every refresh) and, when read,
    the list.

    Attributes:
        counts: open alerts neither acknowledged nor muted, per severity (none: left out).
        alerts: the open alerts as last listed, most severe and oldest first.
        listed: the list was read at least once (an empty ``alerts`` then means none open).
        unavailable: why there are no alerts to read here (no table), or None.
    """

    counts: Mapping[Severity, int] = field(default_factory=dict)
    alerts: tuple[Alert, ...] = ()
    listed: bool = False
    unavailable: str | None = None

    @classmethod
    def empty(cls) -> AlertsSnap:
        return cls()

    @property
    def attention(self) -> int:
        """Open alerts needing attention, all severities."""
        return sum(self.counts.values())

    @property
    def capped(self) -> bool:
        """The count stopped at its bound: there may be more."""
        return self.attention >= ATTENTION_SCAN

    @property
    def worst(self) -> Severity | None:
        """The most severe severity among those needing attention."""
        present = [s for s, n in self.counts.items() if n]
        return min(present, key=lambda s: s.rank) if present else None

    def alert(self, alert_id: int) -> Alert | None:
        return next((a for a in self.alerts if a.id == alert_id), None)


class AlertsCache:
    """What a reader keeps between refreshes: whether the table exists (once seen, it stays)
    and the list as last read."""

    def __init__(self) -> None:
        self.has_table = False
        self.last = AlertsSnap.empty()


async def read_alerts(
    tx: Any, now: datetime, cache: AlertsCache, *, listed: bool, limit: int = ALERTS_LIMIT
) -> AlertsSnap:
    """The badge's count, and the list when ``listed`` (else the last one read, whose states
    the pane derives against ``now`` as it draws)."""
    if not cache.has_table:
        cache.has_table = bool(await tx.query_value(HAS_TABLE))
        if not cache.has_table:
            return AlertsSnap(unavailable=NOT_MIGRATED)
    counts = await attention_counts(tx, now)
    if listed:
        snap = AlertsSnap(counts, tuple(await list_alerts(tx, limit=limit)), listed=True)
    else:
        snap = AlertsSnap(counts, cache.last.alerts, listed=cache.last.listed)
    cache.last = snap
    return snap
