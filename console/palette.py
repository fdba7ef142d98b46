"""The command palette (``ctrl+p``): jump to a machine, a task or a sector, or run a console
command. Hits are built from the latest snapshot; nothing here queries the database.

The palette does not know the app's class: it reads what :class:`ConsoleView` describes and
asks for everything by message (:class:`~console.navigation.Goto`, the panes' detail request) or by
the app's actions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Protocol, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from engine.snapshot import ClusterSnapshot

from .navigation import Goto
from .panes import PANE_TITLES
from .panes.base import DetailKind, Pane

__all__ = ["Command", "ConsoleCommands", "ConsoleView"]

Command = tuple[str, Callable[[], object], str]


class ConsoleView(Protocol):
    """What the palette reads of the app."""

    @property
    def snapshot(self) -> ClusterSnapshot | None: ...

    @property
    def paused(self) -> bool: ...


class ConsoleCommands(Provider):
    def _goto(self, pane: str, key: str, view: str | None = None) -> None:
        self.app.post_message(Goto(pane, key, view))

    def _detail(self, kind: DetailKind, key: str) -> None:
        self.app.post_message(Pane.DetailRequested(kind, key))

    def _action(self, action: str) -> Callable[[], object]:
        return partial(self.app.run_action, action)

    def commands(self) -> Iterator[Command]:
        """Every command the palette offers now: (title, what it does, help)."""
        view = cast("ConsoleView", self.app)
        yield ("Refresh now", self._action("refresh_now"), "run the query set once more")
        yield (
            "Resume live updates" if view.paused else "Pause live updates",
            self._action("toggle_pause"),
            "p",
        )
        yield ("Keys and symbols", self._action("help"), "?")
        for pane, label in PANE_TITLES.items():
            yield (f"Pane: {label}", self._action(f"show_pane('{pane}')"), "")
        snap = view.snapshot
        if snap is None:
            return
        goto, detail = self._goto, self._detail
        for m in snap.machines:
            yield (
                f"Machine {m.label} ({m.state})",
                partial(goto, "machines", str(m.id)),
                f"id {m.id}, {m.host_and_port}, {m.running} running",
            )
        for t in snap.queues.types:
            yield (
                f"Task type {t.name}",
                partial(goto, "tasks", t.name, "types"),
                f"{t.pending} pending, {t.running} running",
            )
        for f in snap.queues.failed_tasks:
            yield (
                f"Task {f.id} {f.name} (failed)",
                partial(goto, "tasks", str(f.id), "failed"),
                f.last_error or "",
            )
        for r in snap.running:
            owner = snap.machine(r.owner_id)
            yield (
                f"Task {r.id} {r.name} (running)",
                partial(detail, "machine", str(r.owner_id)),
                f"on {owner.label if owner else r.owner_id}",
            )
        for s in snap.pipeline.sectors:
            yield (
                f"Sector t0{s.sp_id} {s.sector_number} ({s.stage})",
                partial(detail, "sector", f"{s.sp_id}:{s.sector_number}"),
                s.state,
            )
        for p in snap.pipeline.problems:
            yield (
                f"Sector t0{p.sp_id} {p.sector_number} ({p.kind})",
                partial(detail, "sector", f"{p.sp_id}:{p.sector_number}"),
                p.reason,
            )

    async def discover(self) -> Hits:
        for title, command, help_text in list(self.commands())[:12]:
            yield DiscoveryHit(title, command, help=help_text or None)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, command, help_text in self.commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), command, help=help_text or None)
