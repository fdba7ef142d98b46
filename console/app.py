"""The Harmony operations console: a Textual app over live HarmonyDB snapshots.

Data flow (reference console.md sections 2-3): one :class:`~engine.snapshot.SnapshotReader`
runs a fixed, bounded query set per refresh on the app's own small pool; the panes render the
resulting :class:`~engine.snapshot.ClusterSnapshot` and never query. Refreshes never overlap:
each poll re-arms its timer when it ends, skips work while a dialog is open or updates are
paused, and a LISTEN connection only marks the data dirty so the next poll comes sooner.
Operator actions (cordon, uncordon, drain, restart) go through the engine's admin API on a
separate one-connection pool, so they never wait behind a refresh.

Build it with :func:`make_app`, which both ``harmony`` and the tests use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Footer, Input, Static, TabbedContent, TabPane

from engine.harmonydb import DB, HarmonyDBError, start_embedded
from engine.harmonytask import EngineError, cordon, drain, restart_task, uncordon
from engine.harmonytask.wakeup import Listener
from engine.harmonytask.workers import prestart_worker_processes
from engine.snapshot import ClusterSnapshot, SnapshotReader, drain_plan, duration

from .clock import Clock, SystemClock

if TYPE_CHECKING:
    # engine.node brings in every task type of the workload: imported only where used, so the
    # console paints before that cost is paid.
    from engine.node import Node
from .palette import ConsoleCommands
from .panes.base import Pane
from .panes.machines import MachinesPane
from .panes.pipeline import STAGE_CODES, PipelinePane
from .panes.post import PostPane
from .panes.storage import StoragePane
from .panes.tasks import TasksPane
from .screens.confirm import MachineActionScreen
from .screens.detail import DetailScreen
from .screens.help import HelpScreen
from .screens.machine import MachineScreen
from .screens.quit import QuitScreen

__all__ = ["HarmonyConsole", "NodeFactory", "make_app"]

log = logging.getLogger("harmony.console")

#: Starts this process's machine once the console is on screen: gets the database URL.
NodeFactory = Callable[[str], Awaitable["Node"]]

REFRESH_STEPS = (1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)
MIN_REFRESH = 1.0
#: a notification never triggers polls closer together than this
NOTICE_GAP = 0.5

ACTIONS: dict[str, Callable[[DB, int], Awaitable[None]]] = {
    "cordon": cordon,
    "uncordon": uncordon,
    "drain": drain,
}
PAST = {"cordon": "cordoned", "uncordon": "uncordoned", "drain": "draining"}

EXIT_SIGTERM = 143


class HarmonyConsole(App[int]):
    """The console. Attributes set by :func:`make_app`; state the panes read is public."""

    CSS_PATH = "console.tcss"
    TITLE = "Harmony Console"
    COMMANDS = App.COMMANDS | {ConsoleCommands}
    ENABLE_COMMAND_PALETTE = True

    PANE_TITLES: ClassVar[dict[str, str]] = {
        "machines": "Machines",
        "tasks": "Task queues",
        "pipeline": "Sealing",
        "storage": "Storage",
        "post": "PoSt deadlines",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit_console", "Quit", id="console.quit"),
        Binding("question_mark", "help", "Help", key_display="?", id="console.help"),
        Binding("slash", "filter", "Filter", key_display="/", id="console.filter"),
        Binding("p", "toggle_pause", "Pause", id="console.pause"),
        Binding(
            "plus,equals_sign",
            "interval(1)",
            "Slower",
            show=False,
            key_display="+",
            id="console.slower",
        ),
        Binding(
            "minus", "interval(-1)", "Faster", show=False, key_display="-", id="console.faster"
        ),
        Binding("ctrl+r", "refresh_now", "Refresh", show=False, id="console.refresh"),
        Binding("colon", "command_palette", "Palette", show=False, id="console.palette"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="console.escape"),
        *(
            Binding(str(i), f"show_pane('{pane}')", title, show=False, id=f"console.pane.{pane}")
            for i, (pane, title) in enumerate(PANE_TITLES.items(), start=1)
        ),
    ]

    def __init__(
        self,
        db_url: str | None,
        schema: str = "harmony",
        *,
        clock: Clock | None = None,
        engine: Node | NodeFactory | None = None,
        refresh_s: float = 2.0,
        read_only: bool = False,
        data_dir: Path | None = None,
        label: str | None = None,
        migrate: bool = True,
        stale_after: float = 10.0,
        stuck_after: float = 12 * 3600.0,
        theme: str | None = None,
        watchdog: bool = True,
    ) -> None:
        super().__init__()
        self.db_url = db_url
        self.schema = schema
        self.clock: Clock = clock or SystemClock()
        # A factory is called to start the node after the first paint; a Node is already running.
        self.node: Node | None = None if engine is None or callable(engine) else engine
        self.node_factory: NodeFactory | None = engine if callable(engine) else None
        self.refresh_s = max(refresh_s, MIN_REFRESH)
        self.read_only = read_only
        self.data_dir = data_dir
        self.label = label
        self.migrate = migrate
        self.stale_after = stale_after
        self.stuck_after = stuck_after
        self.watchdog = watchdog
        if theme:
            self.theme = theme

        #: the latest snapshot (None until the first refresh)
        self.snapshot: ClusterSnapshot | None = None
        #: set once the first snapshot has been drawn (tests wait for it)
        self.first_render = asyncio.Event()
        self.paused = False
        #: an action is in flight: its bindings are greyed
        self.busy = False
        self.db: DB | None = None
        self.action_db: DB | None = None
        self.reader: SnapshotReader | None = None
        self.listener: Listener | None = None
        self.live = False
        self.history_filter: str | None = None
        self.error: str | None = None
        self.engine_note = ""
        self.quitting = False
        #: the database is the embedded server this process started or joined
        self.embedded = False

        self._polling = False
        self._dirty = False
        self._poll_timer: Timer | None = None
        self._last_poll_end = 0.0
        self._poll_due = 0.0
        self._active = "machines"
        self._error_notified = False

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Static(id="status", classes="status-bar")
        with TabbedContent(initial="tab-machines", id="panes"):
            for i, (pane, title) in enumerate(self.PANE_TITLES.items(), start=1):
                with TabPane(f"{i} {title}", id=f"tab-{pane}"):
                    yield self._make_pane(pane)
        yield Input(placeholder="filter (enter keeps it, esc clears)", id="filter")
        yield Footer()

    @staticmethod
    def _make_pane(pane: str) -> Pane:
        kinds: dict[str, type[Pane]] = {
            "machines": MachinesPane,
            "tasks": TasksPane,
            "pipeline": PipelinePane,
            "storage": StoragePane,
            "post": PostPane,
        }
        return kinds[pane](id=pane)

    def pane(self, name: str | None = None) -> Pane:
        return self.query_one(f"#{name or self._active}", Pane)

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.render_status()
        self.set_interval(1.0, self._tick, name="tick")
        if self.watchdog and not self.is_headless:
            self.set_interval(5.0, self._tty_watchdog, name="tty-watchdog")
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop = asyncio.get_running_loop()
                loop.add_signal_handler(signal.SIGHUP, self._hangup)
                loop.add_signal_handler(signal.SIGTERM, self._terminated)
        self.start()

    # ------------------------------------------------------------------ start-up

    @work(group="db", exit_on_error=False, name="connect", description="connect and first refresh")
    async def start(self) -> None:
        """Connect, draw the first snapshot, then start the embedded engine (if any)."""
        delay = 1.0
        while self.db is None:
            try:
                await self._connect()
            except Exception as exc:
                self.error = _one_line(exc)
                self.render_status()
                if not self.node_factory and not self.node and self.is_headless:
                    log.warning("console cannot connect: %s", self.error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        await self._poll_once()
        self._schedule_poll(self.refresh_s)
        if self.node_factory is not None and not self.quitting:
            self.start_engine()
        elif self.node is not None:
            self.watch_engine()

    async def _connect(self) -> None:
        url = self.db_url
        if url is None:
            server = await asyncio.to_thread(start_embedded, self.data_dir)
            url = self.db_url = server.uri
            self.embedded = True
        db = await DB.open(
            url,
            schema=self.schema,
            read_only=self.read_only,
            migrate=self.migrate and not self.read_only,
            application_name="harmony console",
            min_size=1,
            max_size=2,
        )
        try:
            if not self.read_only:
                self.action_db = await DB.open(
                    url,
                    schema=self.schema,
                    migrate=False,
                    create_schema=False,
                    application_name="harmony console actions",
                    min_size=1,
                    max_size=2,
                )
                # Tx.commit probes NOTIFY support on a second pooled connection while holding
                # the first: probe now, so an action never waits on its own pool.
                await self.action_db.notify_supported()
            self.listener = Listener(
                db,
                {"task": self._on_notice, "machine": self._on_notice},
                on_reconnect=lambda: self._on_notice(""),
            )
            self.live = await self.listener.start()
        except BaseException:
            await db.close()
            if self.action_db is not None:
                await self.action_db.close()
                self.action_db = None
            raise
        self.reader = SnapshotReader(db, stale_after=self.stale_after, stuck_after=self.stuck_after)
        self.db = db
        self.error = None
        if self.label is None:
            where = "embedded" if self.embedded else ",".join(db.url.hosts) or "local socket"
            self.label = f"{db.schema} @ {where}"

    @work(group="engine", exit_on_error=False, name="engine", description="start this machine")
    async def start_engine(self) -> None:
        assert self.node_factory is not None and self.db_url is not None
        self.engine_note = "engine starting"
        self.render_status()
        try:
            self.node = await self.node_factory(self.db_url)
        except Exception as exc:
            self.engine_note = "engine failed"
            self.notify(f"the engine did not start: {_one_line(exc)}", severity="error", timeout=15)
            self.render_status()
            return
        self.engine_note = ""
        self.render_status()
        self.refresh_now()
        self.watch_engine()

    @work(group="engine-exit", exit_on_error=False, name="engine-exit")
    async def watch_engine(self) -> None:
        """Exit with the engine's code when it asks (100 = restart requested)."""
        assert self.node is not None
        code = await self.node.engine.exit_code
        if self.quitting:
            return
        self.notify(f"this machine's engine stopped (exit status {code})", severity="warning")
        self.quitting = True
        await self.node.graceful_terminate()
        self.exit(return_code=code)

    # ------------------------------------------------------------------ refreshing

    def _schedule_poll(self, delay: float) -> None:
        if self._poll_timer is not None:
            self._poll_timer.stop()
        delay = max(delay, 0.01)  # Textual's timers divide by the interval
        self._poll_due = time.monotonic() + delay
        self._poll_timer = self.set_timer(delay, self._start_poll, name="poll")

    def _start_poll(self) -> None:
        if self._polling or self.reader is None:
            return
        self._polling = True
        self.poll()

    @work(group="db", exit_on_error=False, name="poll", description="refresh the snapshot")
    async def poll(self) -> None:
        try:
            if not self.paused and not isinstance(self.screen, ModalScreen):
                await self._poll_once()
                await self._backfill()
        finally:
            self._polling = False
            self._last_poll_end = time.monotonic()
            delay = self.refresh_s
            if self._dirty:
                delay, self._dirty = NOTICE_GAP, False
            self._schedule_poll(delay)

    async def _poll_once(self) -> None:
        assert self.reader is not None
        try:
            snap = await self.reader.snapshot(
                self.clock.now(),
                history_filter=self.history_filter,
                lists=None if self.snapshot is None else self.wanted_lists(),
            )
        except Exception as exc:
            self.error = _one_line(exc)
            if not self._error_notified:
                self.notify(f"refresh failed: {self.error}", severity="error", timeout=10)
                self._error_notified = True
            log.warning("refresh failed: %s", self.error)
            self.render_status()
            return
        self.error = None
        self._error_notified = False
        self.apply_snapshot(snap)

    async def _backfill(self) -> None:
        """Load the 24 h history in slices after a refresh, within part of the interval (the
        next refresh shows the progress); never inside a refresh."""
        reader = self.reader
        if reader is None or not reader.backfill_pending:
            return
        budget = max(0.3, 0.4 * min(self.refresh_s, 5.0))
        started = time.monotonic()
        while reader.backfill_pending and time.monotonic() - started < budget:
            try:
                await reader.backfill_step()
            except Exception as exc:
                log.warning("history backfill failed: %s", _one_line(exc))
                return
        if not reader.backfill_pending:
            self._dirty = True  # show the complete 24 h figures at once

    def wanted_lists(self) -> set[str]:
        """The detail lists the visible pane shows (the others are not re-read)."""
        lists: set[str] = set()
        if self._active == "pipeline":
            lists.add("sectors")
        elif self._active == "tasks":
            pane = self.pane("tasks")
            if isinstance(pane, TasksPane) and pane.view == "history":
                lists.add("history")
        return lists

    def apply_snapshot(self, snap: ClusterSnapshot) -> None:
        self.snapshot = snap
        with self.batch_update():
            self.pane().show(snap)
            show = getattr(self.screen, "show", None)
            if callable(show) and isinstance(self.screen, MachineScreen):
                show(snap)
            self.render_status()
        if not self.first_render.is_set():
            self.refresh_bindings()  # "no row selected" no longer holds
            self.call_after_refresh(self.first_render.set)

    def _on_notice(self, _payload: str) -> None:
        """A NOTIFY arrived: refresh soon (at most every NOTICE_GAP seconds)."""
        self._dirty = True
        if not self._polling and self.reader is not None:
            wait = max(self._last_poll_end + NOTICE_GAP - time.monotonic(), 0.0)
            if self._poll_due - time.monotonic() > wait:
                self._schedule_poll(wait)

    def refresh_now(self) -> None:
        self._dirty = True
        if not self._polling:
            self._schedule_poll(0)

    def _tick(self) -> None:
        now = self.clock.now()
        if self.snapshot is not None:
            self.pane().tick(now)
        self.render_status()

    # ------------------------------------------------------------------ status line

    def render_status(self) -> None:
        try:
            bar = self.query_one("#status", Static)
        except NoMatches:
            return
        now = self.clock.now()
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(" Harmony ", style="bold reverse")
        line.append(f" {self.label or self.schema} ")
        right = Text(no_wrap=True)
        if self.error:
            right.append(f"error: {self.error} ", style="bold red")
        elif self.snapshot is None:
            right.append("connecting... ", style="dim")
        if self.read_only:
            right.append("read-only ", style="bold")
        if self.engine_note:
            right.append(f"{self.engine_note} ", style="dim")
        elif self.node is not None:
            engine = self.node.engine
            right.append(f"engine {engine.state}, {len(engine.running)} running ", style="dim")
        if self.paused:
            right.append("PAUSED ", style="bold reverse")
        elif self.db is not None:
            right.append("live " if self.live else "polling ", style="dim")
            right.append(f"{self.refresh_s:g}s ", style="dim")
        if self.snapshot is not None:
            ago = max(0.0, (now - self.snapshot.taken_at).total_seconds())
            stale = ago > max(3 * self.refresh_s, 10.0) and not self.paused
            right.append(f"updated {duration(ago)} ago ", style="bold red" if stale else "")
        right.append(now.strftime("%H:%M:%S UTC"))
        width = self.size.width
        gap = width - line.cell_len - right.cell_len
        if gap > 0:
            line.append(" " * gap)
        line.append_text(right)
        bar.update(line)

    # ------------------------------------------------------------------ panes

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        pane_id = (event.pane.id or "tab-machines").removeprefix("tab-")
        try:
            pane = self.pane(pane_id)
            if self.query_one("#panes", TabbedContent).active != event.pane.id:
                return  # a later switch already happened; do not pull focus back
        except NoMatches:  # the app is closing and its widgets are gone
            return
        self._active = pane_id
        filter_input = self.query_one("#filter", Input)
        with self.batch_update():
            if filter_input.display:
                filter_input.value = pane.filter_text
            if self.snapshot is not None:
                pane.show(self.snapshot)
        focused = self.focused
        if focused is None or pane not in focused.ancestors:
            pane.focus_main()
        self.refresh_bindings()
        if self.wanted_lists():
            self.refresh_now()  # its list was not re-read while it was hidden

    def action_show_pane(self, pane: str) -> None:
        self.show_pane(pane)

    def show_pane(self, pane: str) -> None:
        if isinstance(self.screen, ModalScreen) or len(self.screen_stack) > 1:
            with contextlib.suppress(Exception):
                while len(self.screen_stack) > 1:
                    self.pop_screen()
        self.query_one("#panes", TabbedContent).active = f"tab-{pane}"

    # ------------------------------------------------------------------ keys

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        self.render_status()
        if not self.paused:
            self.refresh_now()

    def action_refresh_now(self) -> None:
        self.refresh_now()

    def action_interval(self, direction: int) -> None:
        """``+`` refreshes less often, ``-`` more often (never below once a second)."""
        steps = REFRESH_STEPS
        if direction > 0:
            bigger = [s for s in steps if s > self.refresh_s]
            self.refresh_s = bigger[0] if bigger else max(self.refresh_s, steps[-1])
        else:
            smaller = [s for s in steps if s < self.refresh_s]
            self.refresh_s = smaller[-1] if smaller else MIN_REFRESH
        self.notify(f"refreshing every {self.refresh_s:g}s", timeout=2)
        if not self._polling and self.reader is not None:
            self._schedule_poll(self.refresh_s)
        self.render_status()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.value = self.pane().filter_text
        box.focus()

    def action_clear_filter(self) -> None:
        pane = self.pane()
        if pane.filter_text:
            pane.set_filter("")
        box = self.query_one("#filter", Input)
        if box.display:
            box.value = ""
            box.display = False
            pane.focus_main()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.pane().set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.input.display = False
        self.pane().focus_main()

    def set_history_filter(self, value: str | None) -> None:
        if value != self.history_filter:
            self.history_filter = value
            self.refresh_now()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_filter":
            try:
                box = self.query_one("#filter", Input)
                return bool(box.display or self.pane().filter_text)
            except NoMatches:
                return False
        return True

    # ------------------------------------------------------------------ navigation

    def goto_machine(self, machine_id: int, *, detail: bool = False) -> None:
        self.show_pane("machines")
        pane = self.pane("machines")
        assert isinstance(pane, MachinesPane)
        if pane.filter_text:
            pane.set_filter("")
        pane.table.select_key(str(machine_id))
        if detail:
            self.open_machine(machine_id)

    def goto_task_type(self, name: str) -> None:
        self.show_pane("tasks")
        pane = self.pane("tasks")
        assert isinstance(pane, TasksPane)
        pane.show_view("types")
        pane.table("types").select_key(name)

    def goto_failed_task(self, task_id: int) -> None:
        self.show_pane("tasks")
        pane = self.pane("tasks")
        assert isinstance(pane, TasksPane)
        pane.show_view("failed")
        pane.table("failed").select_key(str(task_id))

    def open_machine(self, machine_id: int) -> None:
        self.push_screen(MachineScreen(machine_id))

    def open_sector(self, sp_id: int, sector: int) -> None:
        snap = self.snapshot
        if snap is None:
            return
        row = next(
            (s for s in snap.pipeline.sectors if (s.sp_id, s.sector_number) == (sp_id, sector)),
            None,
        )
        problem = next(
            (p for p in snap.pipeline.problems if (p.sp_id, p.sector_number) == (sp_id, sector)),
            None,
        )
        body = Text()
        if row is not None:
            body.append(
                f"state {row.state}, stage {row.stage}, created "
                f"{row.create_time:%Y-%m-%d %H:%M:%S} UTC ({duration(row.age)} ago)\n"
            )
            body.append(
                f"in this stage since {row.since:%Y-%m-%d %H:%M:%S} UTC"
                + (" (stuck)" if row.stuck else "")
                + "\n"
            )
            body.append(
                f"On Chain: {row.on_chain}"
                + (f" ({row.chain_state})" if row.chain_state else "")
                + "\n\n"
            )
            for cell in row.cells:
                what = cell.status
                if cell.task_id is not None:
                    what += f" (task {cell.task_id}"
                    if cell.owner_id is not None:
                        owner = snap.machine(cell.owner_id)
                        what += f" on {owner.label if owner else cell.owner_id}"
                    what += ")"
                body.append(f"  {STAGE_CODES[cell.label]} {cell.label:<13}", style="bold")
                body.append(f"{what}\n")
        if problem is not None:
            body.append(f"\n{problem.kind}: {problem.reason}\n", style="bold")
            body.append(f"{problem.message}\n")
        if row is None and problem is None:
            body.append("not in the current snapshot (finished sectors are not listed)")
        self.push_screen(DetailScreen(f"Sector t0{sp_id} {sector}", body))

    def open_storage_path(self, storage_id: str) -> None:
        from .commands.storage import render_path

        snap = self.snapshot
        info = (
            next((p for p in snap.storage.paths if p.storage_id == storage_id), None)
            if snap
            else None
        )
        if info is None:
            return
        body = Text(render_path(info).replace("\t", "  "))
        self.push_screen(DetailScreen(f"Storage path {storage_id}", body))

    # ------------------------------------------------------------------ actions

    def request_machine_action(self, kind: str, machine_id: int) -> None:
        if self.read_only or self.busy or self.snapshot is None:
            return
        plan = drain_plan(self.snapshot, machine_id, self.clock.now())
        if plan is None:
            self.notify(f"machine {machine_id} is not in the cluster any more", severity="warning")
            return

        def confirmed(ok: bool | None) -> None:
            if ok:
                self.run_machine_action(kind, machine_id, plan.machine.label)

        self.push_screen(MachineActionScreen(kind, plan), confirmed)

    @work(group="action", exit_on_error=False, name="machine-action")
    async def run_machine_action(self, kind: str, machine_id: int, label: str) -> None:
        if self.action_db is None:
            return
        self.busy = True
        self.refresh_bindings()
        try:
            await ACTIONS[kind](self.action_db, machine_id)
            self.notify(f"{label}: {PAST[kind]}")
        except (HarmonyDBError, EngineError) as exc:
            self.notify(f"{kind} {label} failed: {_one_line(exc)}", severity="error")
        finally:
            self.busy = False
            self.refresh_bindings()
            self.refresh_now()

    def request_restart_task(self, task_id: int) -> None:
        if not self.read_only and not self.busy:
            self.run_restart(task_id)

    @work(group="action", exit_on_error=False, name="restart-task")
    async def run_restart(self, task_id: int) -> None:
        if self.action_db is None:
            return
        self.busy = True
        self.refresh_bindings()
        try:
            name = await restart_task(self.action_db, task_id)
            self.notify(f"task {task_id} ({name}) restarted")
        except (HarmonyDBError, EngineError) as exc:
            self.notify(f"restart of task {task_id} failed: {_one_line(exc)}", severity="error")
        finally:
            self.busy = False
            self.refresh_bindings()
            self.refresh_now()

    # ------------------------------------------------------------------ quitting

    def action_quit_console(self) -> None:
        node = self.node
        if node is not None and node.engine.running:
            self.push_screen(QuitScreen(len(node.engine.running)), self._quit_choice)
        else:
            self.shutdown("drain")

    def _quit_choice(self, choice: str | None) -> None:
        if choice in ("drain", "now"):
            self.shutdown(choice)

    @work(group="quit", exclusive=True, exit_on_error=False, name="quit")
    async def shutdown(self, how: str) -> None:
        self.quitting = True
        if self.node is None:
            for worker in self.workers:
                if worker.group == "engine":
                    worker.cancel()
        if self.node is not None:
            self.engine_note = (
                "draining: waiting for running tasks" if how == "drain" else "stopping"
            )
            self.render_status()
            if how == "drain":
                await self.node.graceful_terminate()
            else:
                await self.node.stop_now()
        self.exit(return_code=0)

    def _hangup(self) -> None:
        """SIGHUP (the SSH session went away): leave; the caller stops the engine."""
        self.exit(return_code=129)

    def _terminated(self) -> None:
        """SIGTERM (a supervisor or ``kill``): leave; the caller drains the engine."""
        self.exit(return_code=EXIT_SIGTERM)

    def _tty_watchdog(self) -> None:
        """After a disconnect stdin is no terminal any more: exit instead of spinning."""
        try:
            if not sys.stdin.isatty():
                self.exit(return_code=129)
        except ValueError:
            self.exit(return_code=129)

    async def on_unmount(self) -> None:
        if self.watchdog and not self.is_headless:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
                asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)
        if self.listener is not None:
            await self.listener.close()
        for db in (self.action_db, self.db):
            if db is not None:
                with contextlib.suppress(Exception):
                    await db.close()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def make_app(
    db_url: str | None,
    schema: str = "harmony",
    *,
    clock: Clock | None = None,
    engine: Node | NodeFactory | None = None,
    refresh_s: float = 2.0,
    read_only: bool = False,
    data_dir: Path | None = None,
    label: str | None = None,
    migrate: bool = True,
    stuck_after: float = 12 * 3600.0,
    theme: str | None = None,
    animations: bool = True,
    watchdog: bool = True,
    **kwargs: Any,
) -> HarmonyConsole:
    """The console app, for ``harmony`` and for tests.

    Args:
        db_url: PostgreSQL/YugabyteDB URL; None starts (or joins) the embedded server in
            ``data_dir``.
        schema: the cluster's schema.
        clock: source of ``now`` (tests pass a :class:`~console.clock.FixedClock`).
        engine: this process's machine: a running :class:`~engine.node.Node`, or a factory
            called with the URL once the console is on screen; None for a console only.
        refresh_s: seconds between refreshes (``+``/``-`` change it).
        read_only: no engine, no actions; works under a role that may only SELECT.
        label: what the status line calls the database (default ``schema@host``).
    """
    if read_only and engine is not None:
        raise ValueError("a read-only console runs no engine")
    if engine is not None:
        prestart_worker_processes()  # before Textual takes over stdio
    app = HarmonyConsole(
        db_url,
        schema,
        clock=clock,
        engine=engine,
        refresh_s=refresh_s,
        read_only=read_only,
        data_dir=data_dir,
        label=label,
        migrate=migrate,
        stuck_after=stuck_after,
        theme=theme,
        watchdog=watchdog,
        **kwargs,
    )
    if not animations:
        app.animation_level = "none"
    return app
