"""The status line at the top: which database (and whose: a Curio cluster is marked, with what
the console may do to it), whether the data is live and fresh, the engine, and the time.

Every figure is a reactive attribute the app binds (``data_bind``), so the line is redrawn
whenever one of them changes and always agrees with the panes drawn from the same snapshot. This
process's machine is one of them: its state and running tasks are read from the snapshot's row
for it (what the machines pane shows), never from the engine's own count, which runs ahead of
the snapshot between refreshes; only what the tables cannot say (starting, quitting) comes from
the process.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from engine.snapshot import duration

from ..feed import FeedState

if TYPE_CHECKING:
    from engine.snapshot import ClusterSnapshot

__all__ = ["StatusLine"]


class StatusLine(Static):
    """`` Harmony  label ................ error / read-only / engine / live 2s / updated / time``"""

    DEFAULT_CSS = """
    StatusLine {
        dock: top;
        height: 1;
        background: $panel;
    }
    """

    #: the cluster as last read
    snapshot: reactive[ClusterSnapshot | None] = reactive(None)
    #: the clock's time
    now: reactive[datetime | None] = reactive(None)
    #: the connection: connected, LISTEN working, the last error
    feed_state: reactive[FeedState] = reactive(FeedState)
    #: what only this process knows of its machine: starting, failed, quitting ('' otherwise)
    engine: reactive[str] = reactive("")
    #: this process's machine, once joined (None when the console runs none)
    machine_id: reactive[int | None] = reactive(None)
    paused: reactive[bool] = reactive(False)
    refresh_s: reactive[float] = reactive(2.0)

    def __init__(self, label: str, *, read_only: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        #: what the line calls the database until the connection names it
        self.label = label
        self.read_only = read_only

    def render(self) -> Text:
        now = self.now
        state = self.feed_state
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(" Harmony ", style="bold reverse")
        line.append(f" {state.label or self.label} ")
        curio = getattr(self.snapshot, "cluster", "harmony") == "curio"
        if curio:
            line.append(" Curio ", style="bold reverse")
            line.append(" ")
        badge = self.alerts_badge()
        if badge is not None:
            line.append_text(badge)
            line.append(" ")
        right = Text(no_wrap=True)
        if state.error:
            right.append(f"error: {state.error} ", style="bold red")
        elif self.snapshot is None:
            right.append("connecting... ", style="dim")
        if self.read_only:
            right.append("read-only ", style="bold")
        engine = self.engine_text()
        if engine:
            right.append(f"{engine} ", style="dim")
        if self.paused:
            right.append("PAUSED ", style="bold reverse")
        elif state.connected:
            # How the data comes is the first thing to give way on a full line (then the clock).
            how, every = ("live " if state.live else "polling "), f"{self.refresh_s:g}s "
            room = self.size.width - line.cell_len - right.cell_len - len("updated 59s ago ")
            if not self.size.width or len(how + every) <= room:
                right.append(how, style="dim")
                right.append(every, style="dim")
        if self.snapshot is not None and now is not None:
            ago = max(0.0, (now - self.snapshot.taken_at).total_seconds())
            stale = ago > max(3 * self.refresh_s, 10.0) and not self.paused
            right.append(f"updated {duration(ago)} ago ", style="bold red" if stale else "")
        if now is not None:
            # The clock gives way first when the line is full: "UTC", then the time.
            room = self.size.width - line.cell_len - right.cell_len if self.size.width else 99
            for clock in (now.strftime("%H:%M:%S UTC"), now.strftime("%H:%M:%S")):
                if len(clock) <= room:
                    right.append(clock)
                    break
        if curio and not self.read_only:
            # Nothing is written there but a confirmed cordon or restart (--read-only says so
            # on the right); said where the line has room for it.
            note = "writes only when confirmed "
            if self.size.width - line.cell_len - right.cell_len > len(note):
                right = Text(note, style="dim", no_wrap=True).append_text(right)
        gap = self.size.width - line.cell_len - right.cell_len
        if gap > 0:
            line.append(" " * gap)
        line.append_text(right)
        return line

    def alerts_badge(self) -> Text | None:
        """Open alerts neither acknowledged nor muted, in the colour of the worst (the word
        says it too); None when there are none. On the left, after the database: it stays when
        the line is full at 80 columns (the right side gives way)."""
        alerts = getattr(self.snapshot, "alerts", None)
        if alerts is None or not alerts.attention:
            return None
        worst = alerts.worst
        colour = {"critical": "red", "warning": "yellow"}.get(str(worst), "blue")
        count = f"{alerts.attention}{'+' if alerts.capped else ''}"
        label = "alert" if alerts.attention == 1 else "alerts"
        return Text(f" {count} {label}: {worst} ", style=f"bold reverse {colour}")

    def engine_text(self) -> str:
        """This process's machine as the snapshot has it (the same row the machines pane
        draws), then what only the process knows."""
        words = []
        if self.machine_id is not None:
            m = self.snapshot.machine(self.machine_id) if self.snapshot is not None else None
            words.append(f"engine {m.state}, {m.running} running" if m else "engine joining")
        if self.engine:
            words.append(self.engine)
        return ", ".join(words)
