"""The Alerts pane's changes: acknowledge or mute one alert, through :mod:`engine.alerts`' own
API (the one ``harmony alerts ack|mute`` calls), on the actions' pool.

Where they may not run is said here, in the words ``harmony alerts`` uses: a ``--read-only``
console writes nothing, and a Curio cluster has no ``harmony_alerts`` table (its alerts are
evaluated live and are Curio's to acknowledge, in its web UI; harmony never writes there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from engine.alerts import NoSuchAlert, ack, mute
from engine.harmonydb import HarmonyDBError
from engine.snapshot import duration

from .actions import ActionFailed
from .commands.alerts import who
from .feed import one_line

if TYPE_CHECKING:
    from engine.alerts.model import Alert
    from engine.harmonydb import DB

__all__ = ["AlertChange", "change_alert", "refusal"]

AlertChange = Literal["ack", "mute"]

VERB = {"ack": "acknowledge", "mute": "mute"}


def refusal(kind: AlertChange, *, read_only: bool, cluster: str) -> str | None:
    """Why ``kind`` is refused here (for a notification), or None when it may go ahead."""
    verb = VERB[kind]
    if cluster == "curio":
        return (
            f"this is a Curio cluster: {verb} its alerts in Curio's web UI (harmony never "
            "writes to a Curio cluster); nothing was changed"
        )
    if read_only:
        return (
            f"read-only console: cannot {verb} alerts (start it without --read-only, or run "
            f"`harmony alerts {kind}` where writes are allowed); nothing was changed"
        )
    return None


async def change_alert(
    db: DB, kind: AlertChange, alert: Alert, *, seconds: float = 0.0, by: str | None = None
) -> str:
    """Acknowledge ``alert``, or mute it for ``seconds``; what happened, for a notification.
    Raises :class:`~console.actions.ActionFailed` with the reason (it cleared meanwhile, it
    was acknowledged by someone else, the database refused)."""
    by = by or who()
    try:
        if kind == "ack":
            await ack(db, str(alert.id), by)
            return f"alert {alert.id} ({alert.check} / {alert.subject}) acknowledged"
        await mute(db, str(alert.id), seconds, by)
        return f"alert {alert.id} ({alert.check} / {alert.subject}) muted for {duration(seconds)}"
    except NoSuchAlert as exc:
        raise ActionFailed(f"{VERB[kind]} alert {alert.id}: {exc}") from exc
    except HarmonyDBError as exc:
        raise ActionFailed(f"{VERB[kind]} alert {alert.id} failed: {one_line(exc)}") from exc
