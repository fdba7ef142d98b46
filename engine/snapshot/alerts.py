"""The alerts a refresh knows: the header badge's count every time, the list while the Alerts
pane (or a screen over it) shows it.

Both come from :mod:`engine.alerts.store`, the very statements ``harmony alerts list`` (and
``--count``) runs, so the console and the CLI cannot disagree on what is open or what needs
attention. The count is one statement over the partial index of open alerts, bounded
(``ATTENTION_SCAN``); the list (``LIMIT``\\ ed, most severe and oldest first) is read only when
the ``"alerts"`` list is wanted, else carried over from the last refresh that read it.

On a Curio cluster nothing is stored (``harmony_alerts`` is ours, never created there): as
``harmony alerts list`` does, :class:`LiveAlerts` evaluates the Curio checks live, read-only,
every ``shown_every`` seconds while the pane shows them and every ``hidden_every`` (Curio's own
alert interval, 5 min) otherwise, for the badge; each is new (it cannot be acknowledged here).
With the chain state of Curio's Lotus node (the reader's ChainWatch) the checks that need it run
too; without one they do not, and the snapshot says so (``not_evaluated``).

A schema migrated before the alerts existed (a ``--read-only`` console never migrates) has no
``harmony_alerts`` table: the section says so and reads nothing, without failing the
refresh's transaction; once the table is there it is read as usual.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.alerts.store import ATTENTION_SCAN, attention_counts, list_alerts

if TYPE_CHECKING:
    from engine.alerts.model import Alert, Severity
    from engine.harmonydb import DB

    from .curio.chain import ChainState

__all__ = ["ALERTS_LIMIT", "AlertsCache", "AlertsSnap", "LiveAlerts", "read_alerts"]

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
        live_at: a Curio cluster's: when its checks were last evaluated (the alerts have id
            0 and are first seen then: nothing is stored); None on ours.
        not_evaluated: a Curio cluster's: the checks that were not evaluated and why (no
            Lotus node), or None.
    """

    counts: Mapping[Severity, int] = field(default_factory=dict)
    alerts: tuple[Alert, ...] = ()
    listed: bool = False
    unavailable: str | None = None
    live_at: datetime | None = None
    not_evaluated: str | None = None

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


class LiveAlerts:
    """A Curio cluster's alerts, evaluated live (see the module docstring) at most every
    ``shown_every`` seconds while shown, every ``hidden_every`` otherwise."""

    def __init__(self, *, shown_every: float = 30.0, hidden_every: float = 300.0) -> None:
        self.shown_every = shown_every
        self.hidden_every = hidden_every
        self.snap = AlertsSnap.empty()
        #: the chain state the last evaluation had (None: it ran without Lotus's checks)
        self._chain_read_at: datetime | None = None

    def due(self, now: datetime, *, shown: bool, chain: ChainState | None = None) -> bool:
        """Every ``shown_every``/``hidden_every`` seconds; and at once when the Lotus node's
        first state arrives after an evaluation without it (the console's watch reads it in
        the background: the first refresh usually has none yet)."""
        at = self.snap.live_at
        if at is None:
            return True
        if chain is not None and chain.tried_at is not None and self._chain_read_at is None:
            return True
        every = self.shown_every if shown else self.hidden_every
        return abs((now - at).total_seconds()) >= every

    async def read(
        self, db: DB, now: datetime, *, shown: bool, chain: ChainState | None = None
    ) -> AlertsSnap:
        """Evaluate when due (each check on its own, bounded, read-only), else the last.
        ``chain``: the latest state of Curio's Lotus node, or None (none given, or not read
        yet): the checks needing it are then not evaluated."""
        if not self.due(now, shown=shown, chain=chain):
            return self.snap
        # Here, not at the top: engine.alerts' checks import engine.snapshot.format, and a
        # module-level import of its evaluator from the snapshot package is a circle at import.
        from engine.alerts.curio_checks import lotus_checks_skipped
        from engine.alerts.evaluate import evaluate_live

        if chain is not None and chain.tried_at is None:
            chain = None
        alerts = await evaluate_live(db, chain=chain)
        self._chain_read_at = None if chain is None else chain.tried_at
        counts: dict[Severity, int] = {}
        for a in alerts:
            counts[a.severity] = counts.get(a.severity, 0) + 1
        skipped = lotus_checks_skipped("--lotus-api") if chain is None else None
        self.snap = AlertsSnap(
            counts,
            tuple(alerts[:ALERTS_LIMIT]),
            listed=True,
            live_at=now,
            not_evaluated=skipped,
        )
        return self.snap
