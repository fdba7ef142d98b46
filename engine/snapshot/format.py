"""Fixed-width, deterministic renderings of durations (no locale, no wall clock)."""

from __future__ import annotations

__all__ = ["countdown", "duration", "took"]


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


def took(seconds: float) -> str:
    """How long a piece of work took (a task attempt, a type's mean), shared by the console and
    ``harmony task history``: ``48ms`` under a second, ``2.05s`` under ten, then
    :func:`duration`. Ages and countdowns keep whole seconds (they tick); work that took 48 ms
    must not read "0s". Rounded first, so the text never grows past five characters:
    0.9996 s is ``1.00s``, not ``1000ms``, and 9.996 s is ``9s``, not ``10.00s``."""
    if round(seconds * 1000) < 1000:
        return f"{max(round(seconds * 1000), 0)}ms"
    if round(seconds, 2) < 10:
        return f"{seconds:.2f}s"
    return duration(seconds)


def countdown(seconds: float) -> str:
    """``HH:MM:SS`` until a moment, ``-HH:MM:SS`` once it has passed (hours may exceed 24);
    under a second past is `` 00:00:00``, not ``-00:00:00`` (which the PoSt pane showed)."""
    s = int(abs(seconds))
    sign = "-" if seconds < 0 and s else " "
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{sign}{h:02d}:{m:02d}:{sec:02d}"
