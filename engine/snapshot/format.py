"""Fixed-width, deterministic renderings of durations (no locale, no wall clock)."""

from __future__ import annotations

__all__ = ["countdown", "duration"]


def duration(seconds: float) -> str:
    """Compact and at most two units: ``45s``, ``12m``, ``3h05m``, ``2d04h``."""
    s = int(max(seconds, 0))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        m, rest = divmod(s, 60)
        return f"{m}m{rest:02d}s" if m < 10 and rest else f"{m}m"
    if s < 86400:
        h, rest = divmod(s, 3600)
        return f"{h}h{rest // 60:02d}m"
    d, rest = divmod(s, 86400)
    return f"{d}d{rest // 3600:02d}h"


def countdown(seconds: float) -> str:
    """``HH:MM:SS`` until a moment, ``-HH:MM:SS`` once it has passed (hours may exceed 24)."""
    sign = "-" if seconds < 0 else " "
    s = int(abs(seconds))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{sign}{h:02d}:{m:02d}:{sec:02d}"
