"""Alerts in the database: one row per (check, subject) in ``harmony_alerts`` (migration
20261203-51), a bounded history in ``harmony_alert_history``.

An evaluation's findings are written in one transaction (:func:`record`): a finding seen before
keeps its row, its first-seen time and its acknowledgement; one seen again after it cleared is
raised anew (first seen now, acknowledgement dropped: it is a new occurrence; a mute lasts its
time). Open alerts of the checks that ran and did not find them any more are cleared. A check
that failed keeps its alerts as they were. Each statement is one round trip over arrays, so
the transaction stays short whatever the number of findings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .model import Alert, Finding, Severity

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx

__all__ = [
    "ATTENTION_SCAN",
    "AckResult",
    "NoSuchAlert",
    "ack",
    "attention_counts",
    "list_alerts",
    "mute",
    "prune",
    "record",
    "row_to_alert",
]

UPSERT = """
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
        AS i (check_name, subject, severity, message, links)
), old AS (
    SELECT a.check_name, a.subject, a.cleared_at, a.severity
      FROM harmony_alerts a JOIN input i USING (check_name, subject)
), up AS (
    INSERT INTO harmony_alerts AS a (check_name, subject, severity, message, links)
    SELECT check_name, subject, severity, message, links::jsonb FROM input
    ON CONFLICT (check_name, subject) DO UPDATE
       SET severity = EXCLUDED.severity, message = EXCLUDED.message, links = EXCLUDED.links,
           last_seen = now(),
           first_seen = CASE WHEN a.cleared_at IS NULL THEN a.first_seen ELSE now() END,
           acked_by = CASE WHEN a.cleared_at IS NULL THEN a.acked_by END,
           acked_at = CASE WHEN a.cleared_at IS NULL THEN a.acked_at END,
           notified = CASE WHEN a.cleared_at IS NULL THEN a.notified END,
           cleared_at = NULL
    RETURNING a.id, a.check_name, a.subject, a.severity, a.message
), written AS (
    INSERT INTO harmony_alert_history (alert_id, event, check_name, subject, severity, message)
    SELECT up.id,
           CASE WHEN old.check_name IS NULL OR old.cleared_at IS NOT NULL THEN 'raised'
                ELSE 'changed' END,
           up.check_name, up.subject, up.severity, up.message
      FROM up LEFT JOIN old USING (check_name, subject)
     WHERE old.check_name IS NULL OR old.cleared_at IS NOT NULL OR old.severity <> up.severity
    RETURNING event
)
SELECT count(*) FILTER (WHERE event = 'raised') AS raised FROM written
"""

CLEAR = """
WITH gone AS (
    UPDATE harmony_alerts a SET cleared_at = now()
     WHERE a.cleared_at IS NULL AND a.check_name = ANY($1::text[])
       AND NOT EXISTS (SELECT 1 FROM unnest($2::text[], $3::text[]) AS f (check_name, subject)
                        WHERE f.check_name = a.check_name AND f.subject = a.subject)
    RETURNING a.id, a.check_name, a.subject, a.severity, a.message
), written AS (
    INSERT INTO harmony_alert_history (alert_id, event, check_name, subject, severity, message)
    SELECT id, 'cleared', check_name, subject, severity, message FROM gone
    RETURNING 1
)
SELECT count(*) FROM written
"""

COLUMNS = """id, check_name, subject, severity, message, links, first_seen, last_seen,
cleared_at, acked_by, acked_at, muted_until, muted_by"""

LIST_OPEN = f"""
SELECT {COLUMNS} FROM harmony_alerts WHERE cleared_at IS NULL
 ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,
          first_seen, id
 LIMIT $1
"""

LIST_ALL = f"""
SELECT {COLUMNS} FROM harmony_alerts
 ORDER BY cleared_at IS NOT NULL, cleared_at DESC,
          CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,
          first_seen, id
 LIMIT $1
"""

#: Open alerts neither acknowledged nor muted at $1, by severity: the header badge and
#: ``harmony alerts list --count``; the very condition of :meth:`Alert.needs_attention`. An
#: index range scan of the open alerts (the partial index ``harmony_alerts_open``), at most $2
#: of them: a refresh costs the same however many there are.
COUNT_ATTENTION = """
SELECT severity, count(*)::int AS n
  FROM (SELECT severity FROM harmony_alerts
         WHERE cleared_at IS NULL AND acked_at IS NULL
           AND (muted_until IS NULL OR muted_until <= $1)
         ORDER BY first_seen, id
         LIMIT $2) a
 GROUP BY severity
"""

#: the most open alerts :func:`attention_counts` looks at (more are counted as this many)
ATTENTION_SCAN = 1_000

ACK = """
WITH hit AS (
    UPDATE harmony_alerts SET acked_by = $3, acked_at = now()
     WHERE (id = $1 OR check_name = $2) AND cleared_at IS NULL AND acked_at IS NULL
    RETURNING id, check_name, subject, severity, message
), written AS (
    INSERT INTO harmony_alert_history (alert_id, event, check_name, subject, severity, message,
                                       by_whom)
    SELECT id, 'acked', check_name, subject, severity, message, $3 FROM hit
    RETURNING alert_id
)
SELECT alert_id FROM written ORDER BY alert_id
"""

MUTE = """
WITH hit AS (
    UPDATE harmony_alerts
       SET muted_until = CASE WHEN $3::float8 > 0 THEN now() + make_interval(secs => $3) END,
           muted_by = CASE WHEN $3::float8 > 0 THEN $4 END
     WHERE (id = $1 OR check_name = $2) AND cleared_at IS NULL
    RETURNING id, check_name, subject, severity, message, muted_until
), written AS (
    INSERT INTO harmony_alert_history (alert_id, event, check_name, subject, severity, message,
                                       by_whom)
    SELECT id, CASE WHEN muted_until IS NULL THEN 'unmuted' ELSE 'muted' END, check_name,
           subject, severity,
           message || coalesce(' (muted until ' || muted_until || ')', ''), $4
      FROM hit
    RETURNING alert_id
)
SELECT alert_id FROM written ORDER BY alert_id
"""

KNOWN = "SELECT id, cleared_at FROM harmony_alerts WHERE id = $1 OR check_name = $2 LIMIT 1"

PRUNE_ALERTS = """
DELETE FROM harmony_alerts WHERE id IN (
    SELECT id FROM harmony_alerts
     WHERE cleared_at < now() - make_interval(secs => $1) LIMIT $2)
"""

PRUNE_HISTORY = """
DELETE FROM harmony_alert_history WHERE id IN (
    SELECT id FROM harmony_alert_history
     WHERE at < now() - make_interval(secs => $1) LIMIT $2)
"""


class NoSuchAlert(LookupError):
    """``ack``/``mute`` named no open alert."""


@dataclass(frozen=True)
class AckResult:
    ids: list[int]


def _arrays(findings: Sequence[Finding]) -> list[list[str]]:
    return [
        [f.check for f in findings],
        [f.subject for f in findings],
        [str(f.severity) for f in findings],
        [f.message for f in findings],
        [json.dumps(f.links, default=str) for f in findings],
    ]


async def record(db: DB, findings: Sequence[Finding], checked: Iterable[str]) -> tuple[int, int]:
    """Write one evaluation: ``findings`` of the checks named in ``checked`` (those that ran;
    a failed check is left out so its alerts stay). Returns (raised, cleared)."""
    # one finding per (check, subject): the last wins (a check never repeats one on purpose)
    unique = list({(f.check, f.subject): f for f in findings}.values())
    names = sorted(set(checked))

    async def work(tx: Tx) -> tuple[int, int]:
        raised = 0
        if unique:
            raised = int(await tx.query_value(UPSERT, *_arrays(unique)) or 0)
        cleared = int(
            await tx.query_value(
                CLEAR, names, [f.check for f in unique], [f.subject for f in unique]
            )
            or 0
        )
        await tx.commit()
        return raised, cleared

    return await db.transaction(work)


def row_to_alert(r: Any) -> Alert:
    links = r["links"]
    if isinstance(links, str):
        links = json.loads(links)
    return Alert(
        id=r["id"],
        check=r["check_name"],
        subject=r["subject"],
        severity=Severity(r["severity"]),
        message=r["message"],
        links=links or {},
        first_seen=r["first_seen"],
        last_seen=r["last_seen"],
        cleared_at=r["cleared_at"],
        acked_by=r["acked_by"],
        acked_at=r["acked_at"],
        muted_until=r["muted_until"],
        muted_by=r["muted_by"],
    )


async def list_alerts(
    db: DB | Tx, *, include_cleared: bool = False, limit: int = 1000
) -> list[Alert]:
    """Open alerts, most severe and oldest first; with ``include_cleared`` the cleared ones
    still kept too (after the open ones, newest cleared first). ``harmony alerts list`` and
    the console's Alerts pane both list with this (the console inside its refresh's
    transaction)."""
    rows = await db.select(LIST_ALL if include_cleared else LIST_OPEN, limit)
    return [row_to_alert(r) for r in rows]


async def attention_counts(
    db: DB | Tx, now: datetime, *, scan: int = ATTENTION_SCAN
) -> dict[Severity, int]:
    """How many open alerts need attention at ``now`` (neither acknowledged nor muted), per
    severity (those with none left out): the header badge and ``harmony alerts list
    --count``. At most ``scan`` alerts are looked at."""
    rows = await db.select(COUNT_ATTENTION, now, scan)
    return {Severity(r["severity"]): int(r["n"]) for r in rows}


def _target(target: str) -> tuple[int, str]:
    """``ID`` or ``CHECK`` as the (id, check_name) pair the statements match on."""
    text = target.strip()
    if text.isdigit():
        return int(text), ""
    return -1, text


async def _missing(db: DB | Tx, target: str, what: str) -> NoSuchAlert:
    alert_id, check = _target(target)
    row = await db.query_row(KNOWN, alert_id, check)
    if row is None:
        return NoSuchAlert(f"no alert {target!r} (see `harmony alerts list --all`)")
    if row["cleared_at"] is not None:
        return NoSuchAlert(f"alert {target!r} has cleared: nothing to {what}")
    return NoSuchAlert(f"alert {target!r} is already acknowledged")


async def ack(db: DB, target: str, by: str) -> list[int]:
    """Acknowledge the open alert ``target`` (an ID), or every open alert of a check (its
    name). Returns the ids acknowledged; raises :class:`NoSuchAlert` when there were none."""
    alert_id, check = _target(target)

    async def work(tx: Tx) -> list[int]:
        rows = await tx.select(ACK, alert_id, check, by)
        await tx.commit()
        return [r["alert_id"] for r in rows]

    ids = await db.transaction(work)
    if not ids:
        raise await _missing(db, target, "acknowledge")
    return ids


async def mute(db: DB, target: str, seconds: float, by: str) -> list[int]:
    """Mute the open alert ``target`` (an ID, or every open alert of a check) for ``seconds``
    (0: unmute). A muted alert stays listed (as muted) but is neither counted in the badge
    nor sent to the webhook until the time is up, even if it clears and comes back."""
    alert_id, check = _target(target)

    async def work(tx: Tx) -> list[int]:
        rows = await tx.select(MUTE, alert_id, check, seconds, by)
        await tx.commit()
        return [r["alert_id"] for r in rows]

    ids = await db.transaction(work)
    if not ids:
        raise await _missing(db, target, "mute")
    return ids


async def prune(db: DB, retention: float, *, batch: int = 10_000) -> int:
    """Delete alerts cleared longer than ``retention`` seconds ago and older history, in
    batches (no transaction grows large). Returns the rows deleted."""
    deleted = 0
    for statement in (PRUNE_ALERTS, PRUNE_HISTORY):
        while True:
            n = await db.exec(statement, retention, batch)
            deleted += n
            if n < batch:
                break
    return deleted


def history_row(r: Any) -> dict[str, Any]:
    return {k: r[k] for k in ("alert_id", "at", "event", "check_name", "subject", "by_whom")}
