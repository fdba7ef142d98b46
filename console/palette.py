"""The command palette (``ctrl+p``): jump to a machine, a task or a sector, or run a console
command. Hits are built from the latest snapshot; nothing here queries the database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from .app import HarmonyConsole

__all__ = ["ConsoleCommands"]

Command = tuple[str, Callable[[], object], str]


class ConsoleCommands(Provider):
    @property
    def harmony(self) -> HarmonyConsole:
        return cast("HarmonyConsole", self.app)

    def _commands(self) -> Iterator[Command]:
        app = self.harmony
        yield ("Refresh now", app.action_refresh_now, "run the query set once more")
        yield (
            "Resume live updates" if app.paused else "Pause live updates",
            app.action_toggle_pause,
            "p",
        )
        yield ("Keys and symbols", app.action_help, "?")
        for pane, label in app.PANE_TITLES.items():
            yield (f"Pane: {label}", partial(app.show_pane, pane), "")
        snap = app.snapshot
        if snap is None:
            return
        for m in snap.machines:
            yield (
                f"Machine {m.label} ({m.state})",
                partial(app.goto_machine, m.id),
                f"id {m.id}, {m.host_and_port}, {m.running} running",
            )
        for t in snap.queues.types:
            yield (
                f"Task type {t.name}",
                partial(app.goto_task_type, t.name),
                f"{t.pending} pending, {t.running} running",
            )
        for f in snap.queues.failed_tasks:
            yield (
                f"Task {f.id} {f.name} (failed)",
                partial(app.goto_failed_task, f.id),
                f.last_error or "",
            )
        for r in snap.running:
            owner = snap.machine(r.owner_id)
            yield (
                f"Task {r.id} {r.name} (running)",
                partial(app.goto_machine, r.owner_id, detail=True),
                f"on {owner.label if owner else r.owner_id}",
            )
        for s in snap.pipeline.sectors:
            yield (
                f"Sector t0{s.sp_id} {s.sector_number} ({s.stage})",
                partial(app.open_sector, s.sp_id, s.sector_number),
                s.state,
            )
        for p in snap.pipeline.problems:
            yield (
                f"Sector t0{p.sp_id} {p.sector_number} ({p.kind})",
                partial(app.open_sector, p.sp_id, p.sector_number),
                p.reason,
            )

    async def discover(self) -> Hits:
        for title, command, help_text in list(self._commands())[:12]:
            yield DiscoveryHit(title, command, help=help_text or None)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, command, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), command, help=help_text or None)
