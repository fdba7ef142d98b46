"""Settings that are one value for the whole cluster, stored in ``harmony_settings``.

The machine timeout decides when peers declare a machine dead and run its tasks elsewhere. When
each machine judged by its own ``--machine-timeout``, two machines started with different flags
disagreed: the impatient one declared a peer dead that the peer itself (and everyone else)
still counted as alive. So the value lives in the database, seeded with 12 s by the migration,
and every machine reads it at start and in every heartbeat statement.

A machine whose :class:`~.config.EngineConfig` names a timeout explicitly sets the cluster's
value when it starts (logged as a warning when that changes it); the default,
:data:`~.config.CLUSTER_MACHINE_TIMEOUT`, means "no opinion: use the cluster's value".
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.harmonydb import DB

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_MACHINE_TIMEOUT",
    "ClusterSettings",
    "read_settings",
    "set_machine_timeout",
    "settings_from",
]

#: What the migration seeds, and what a machine falls back to when the row is missing.
DEFAULT_MACHINE_TIMEOUT = 12.0

READ = "SELECT name, value FROM harmony_settings WHERE name = ANY($1::text[])"

SET = """
INSERT INTO harmony_settings (name, value, updated_at) VALUES ($1, $2, now())
ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
 WHERE harmony_settings.value IS DISTINCT FROM EXCLUDED.value
RETURNING (SELECT value FROM harmony_settings WHERE name = $1) AS previous
"""


@dataclass(frozen=True)
class ClusterSettings:
    #: seconds of silence after which peers declare a machine dead
    machine_timeout: float = DEFAULT_MACHINE_TIMEOUT


def _seconds(name: str, text: str | None, default: float) -> float:
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        log.warning("harmony_settings %s=%r is not a number; using %g", name, text, default)
        return default
    if not (value > 0 and math.isfinite(value)):
        log.warning(
            "harmony_settings %s=%r is not a positive finite number; using %g", name, text, default
        )
        return default
    return value


def settings_from(values: dict[str, str | None]) -> ClusterSettings:
    """The settings these ``harmony_settings`` values give (defaults for any value that is
    missing or unreadable)."""
    return ClusterSettings(
        machine_timeout=_seconds(
            "machine_timeout", values.get("machine_timeout"), DEFAULT_MACHINE_TIMEOUT
        )
    )


async def read_settings(db: DB) -> ClusterSettings:
    """The cluster's settings (defaults for any row that is missing or unreadable)."""
    return settings_from(
        {r["name"]: r["value"] for r in await db.select(READ, ["machine_timeout"])}
    )


async def set_machine_timeout(db: DB, seconds: float) -> float | None:
    """Make ``seconds`` the cluster's machine timeout; returns the value it replaced (None when
    it was already that, or unset). Every machine uses it from its next heartbeat on."""
    if not seconds > 0:
        raise ValueError(f"machine timeout must be positive, not {seconds!r}")
    row = await db.query_row(SET, "machine_timeout", str(float(seconds)))
    if row is None:
        return None
    previous = row["previous"]
    return float(previous) if previous is not None else None
