"""The Harmony operations console: a Textual app over live HarmonyDB snapshots.

The app is a composition of named parts, each with one job:

* :class:`~console.feed.Feed` (no Textual) connects, polls, coalesces notifications and
  backfills history over a :class:`~console.connection.DatabaseLink`; it hands each snapshot
  and each change of its state to the app.
* :class:`~console.engine_host.EngineHost` (no Textual) starts, watches and stops this
  process's machine, when the console runs one.
* :func:`~console.actions.perform` runs the operator's changes, in the app's one admin worker.
* :class:`~console.terminal.TerminalGuard` (no Textual) leaves on SIGHUP, SIGTERM or a lost
  terminal.
* The panes, the screens and the :class:`~console.widgets.status_line.StatusLine` draw.

Attributes go down, messages come up. The app holds ``snapshot``, ``now`` and ``busy`` as
reactive attributes and binds them (``data_bind``) into every pane and every screen it opens,
modal or not, so all of them redraw from the same snapshot in the same frame. The panes and
screens never call the app: they post messages (an action, a restart, a detail view, the lists
they show), and the app decides.

Build it with :func:`make_app`, which both ``harmony`` and the tests use.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual._context import active_message_pump
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.reactive import var
from textual.screen import ModalScreen
from textual.widget import AwaitMount
from textual.widgets import Input, TabbedContent, TabPane

from engine.clock import Clock, SystemClock
from engine.harmonytask.workers import prestart_worker_processes

from . import collector, component_styles, strips
from .connection import DatabaseLink, Target, open_link
from .engine_host import EngineHost, NodeFactory, StopHow
from .feed import Feed, FeedState, next_interval, one_line
from .navigation import Goto, ResumeRequested
from .offers import offer
from .panes import PANE_KINDS, PANE_TITLES
from .panes.base import Pane
from .terminal import TerminalGuard
from .widgets.cells import miner_address
from .widgets.key_bar import KeyBar
from .widgets.status_line import StatusLine

if TYPE_CHECKING:
    from textual.command import Provider

    from engine.node import Node
    from engine.snapshot import ClusterSnapshot

    from .actions import AdminAction
    from .panes.alerts import AlertsPane
    from .panes.machines import MachinesPane
    from .panes.post import PostPane
    from .panes.tasks import TasksPane
    from .screens.machine import MachineScreen

__all__ = ["PANE_KINDS", "HarmonyConsole", "NodeFactory", "make_app"]

#: the pane on screen at the start
FIRST_PANE = "machines"


def _console_commands() -> type[Provider]:
    """The palette's commands, imported when the palette first opens (Textual's command
    palette is a tenth of the imports before the first frame)."""
    from .palette import ConsoleCommands

    return ConsoleCommands


class HarmonyConsole(App[int]):
    """The console. Built by :func:`make_app`; the reactive attributes are what views bind."""

    CSS_PATH = "console.tcss"
    TITLE = "Harmony Console"
    COMMANDS = App.COMMANDS | {_console_commands}
    ENABLE_COMMAND_PALETTE = True

    PANE_TITLES: ClassVar[dict[str, str]] = PANE_TITLES
    #: the screen gets ``-wide`` from 160 columns: panes show related views side by side there
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (160, "-wide")]

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
        # Naming the palette action here makes Textual drop its own ctrl+p binding, so both
        # keys are bound: ctrl+p with priority (as Textual's was: a focused table or input
        # does not swallow it), ``:`` without (the filter box types a colon).
        Binding(
            "ctrl+p",
            "command_palette",
            "Palette",
            show=False,
            priority=True,
            key_display="^p",
            id="console.palette",
        ),
        Binding("colon", "command_palette", "Palette", show=False, id="console.palette.colon"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="console.escape"),
        *(
            Binding(str(i), f"show_pane('{pane}')", title, show=False, id=f"console.pane.{pane}")
            for i, (pane, title) in enumerate(PANE_TITLES.items(), start=1)
        ),
    ]

    #: the cluster as last read (None until the first refresh)
    snapshot: var[ClusterSnapshot | None] = var(None, init=False)
    #: the clock's time, moved once a second and with every snapshot
    now: var[datetime] = var(datetime.min.replace(tzinfo=UTC), init=False)
    #: an operator action is under way: the keys that would start another are greyed
    busy: var[bool] = var(False, init=False)
    #: live updates are paused (``p``)
    paused: var[bool] = var(False, init=False)
    #: seconds between refreshes (``+``/``-``)
    refresh_s: var[float] = var(2.0, init=False)
    #: the connection's state (connected, LISTEN working, the last error)
    feed_state: var[FeedState] = var(FeedState(), init=False)
    #: when the feed tries again after that error (None after a success)
    retry_at: var[datetime | None] = var(None, init=False)
    #: what this process's machine is doing that the cluster's tables do not say (starting,
    #: failed to start, quitting); '' otherwise
    engine_line: var[str] = var("", init=False)
    #: this process's machine's id, once it has joined (None when the console runs none): the
    #: status line reads its state and running tasks from the snapshot, as the machines pane does
    engine_machine: var[int | None] = var(None, init=False)
    #: the pane on screen
    active_pane: var[str] = var("machines", init=False)

    def __init__(
        self,
        target: Target,
        *,
        clock: Clock | None = None,
        engine: Node | NodeFactory | None = None,
        refresh_s: float = 2.0,
        theme: str | None = None,
        watchdog: bool = True,
    ) -> None:
        strips.install()  # before any frame: every line drawn would be cyclic garbage
        component_styles.install()  # each restyle would drop a style node per component
        super().__init__()
        self.target = target
        self.read_only = target.read_only
        self.clock: Clock = clock or SystemClock()
        self.engine_host = EngineHost(engine)
        self.terminal = TerminalGuard(lambda code: self.exit(return_code=code))
        self.watchdog = watchdog
        if theme:
            self.theme = theme
        self.feed: Feed[DatabaseLink] = Feed(
            self.clock,
            lambda on_notice: open_link(target, on_notice),
            on_snapshot=self._snapshot_read,
            on_state=self._feed_changed,
            refresh_s=refresh_s,
        )
        self.set_reactive(HarmonyConsole.now, self.clock.now())
        self.set_reactive(HarmonyConsole.refresh_s, self.feed.refresh_s)
        #: set once the first snapshot has been drawn and every pane mounted (tests wait for it)
        self.first_render = asyncio.Event()
        self._first_drawn = False
        self._panes_mounted = False
        self._warming = False
        #: the panes made so far, by name, and the mounts not yet awaited
        self._panes: dict[str, Pane] = {}
        self._mounting: dict[str, AwaitMount] = {}
        self.quitting = False
        #: what the pane on screen last asked to be read (see :meth:`_want`)
        self._pane_lists: frozenset[str] = frozenset()
        self._history_filter: str | None = None
        #: how the console is leaving, once the operator chose (quit with drain, or now)
        self.leaving: StopHow | None = None

    # ------------------------------------------------------------------ parts, for callers

    @property
    def node(self) -> Node | None:
        """This process's machine, once started (``harmony`` stops it after the app exits)."""
        return self.engine_host.node

    @property
    def error(self) -> str | None:
        """The last connect or refresh error, None after a success."""
        return self.feed_state.error

    @property
    def live(self) -> bool:
        """Notifications arrive (LISTEN works), so changes show before the next interval."""
        return self.feed_state.live

    def refresh_now(self) -> None:
        self.feed.refresh_now()

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield StatusLine(
            self.target.label or self.target.schema, read_only=self.read_only, id="status"
        ).data_bind(
            HarmonyConsole.snapshot,
            HarmonyConsole.now,
            HarmonyConsole.feed_state,
            HarmonyConsole.paused,
            HarmonyConsole.refresh_s,
            engine=HarmonyConsole.engine_line,
            machine_id=HarmonyConsole.engine_machine,
        )
        # Only the first pane is composed before the first frame; the others are mounted into
        # their (empty) tabs right after it (see _mount_panes): composing and styling nine
        # panes' widgets was a fifth of the time to the first frame.
        with TabbedContent(initial=f"tab-{FIRST_PANE}", id="panes"):
            for i, (pane, title) in enumerate(PANE_TITLES.items(), start=1):
                with TabPane(f"{i} {title}", id=f"tab-{pane}"):
                    if pane == FIRST_PANE:
                        yield self._new_pane(pane)
        yield Input(placeholder="filter (enter keeps it, esc clears)", id="filter")
        # ctrl+p is listed under ? with the other keys: the footer keeps its room at 80 columns
        yield KeyBar()

    def _new_pane(self, name: str) -> Pane:
        pane = PANE_KINDS[name](id=name, read_only=self.read_only)
        token = active_message_pump.set(self)  # data_bind binds to the active pump's reactives
        try:
            pane.data_bind(
                HarmonyConsole.snapshot,
                HarmonyConsole.now,
                HarmonyConsole.busy,
                HarmonyConsole.active_pane,
                HarmonyConsole.feed_state,
                HarmonyConsole.retry_at,
            )
        finally:
            active_message_pump.reset(token)
        self._panes[name] = pane
        return pane

    def pane(self, name: str | None = None) -> Pane:
        """The pane called ``name`` (default: the one on screen), mounted now if it was not yet
        (its children are composed once :meth:`pane_ready` has been awaited)."""
        name = name or self.active_pane
        pane = self._panes.get(name)
        if pane is None:
            pane = self._new_pane(name)
            self._mounting[name] = self.query_one(f"#tab-{name}", TabPane).mount(pane)
        return pane

    async def pane_ready(self, name: str) -> Pane:
        """The pane called ``name``, mounted and composed."""
        pane = self.pane(name)
        mounting = self._mounting.get(name)
        if mounting is not None:
            await mounting  # every caller waits for it (a key during the mount after the frame)
            self._mounting.pop(name, None)
        return pane

    @work(group="panes", exit_on_error=False, name="mount-panes", description="mount the panes")
    async def _mount_panes(self) -> None:
        """After the first frame: mount the panes not yet on screen, one at a time, letting keys
        and refreshes through between them."""
        for name in PANE_KINDS:
            await self.pane_ready(name)
            await asyncio.sleep(0.005)
        self._panes_mounted = True
        self._settle()

    def _settle(self) -> None:
        """Every pane is mounted and the first snapshot drawn: the hidden panes fill their
        tables, then tests may look, and what exists now leaves the garbage collector's view."""
        if self._panes_mounted and self._first_drawn and not self._warming:
            self._warming = True
            self._warm_panes()

    @work(group="panes", exit_on_error=False, name="warm-panes", description="fill the panes")
    async def _warm_panes(self) -> None:
        """Fill each hidden pane's tables from the first snapshot, one pane at a time, letting
        keys and refreshes through between them: a pane's first fill (500 events, 300 jobs)
        had been the key's own step when the pane was first shown, 20-30 ms of the event loop
        beside the first layout of the pane."""
        try:
            for pane in list(self._panes.values()):
                pane.warm()
                await asyncio.sleep(0.005)
        finally:  # a pane that cannot render says so when shown; the console settles anyway
            self.first_render.set()
            collector.settle()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.set_interval(1.0, self._tick, name="tick")
        if self.watchdog and not self.is_headless:
            self.terminal.install()
            self.set_interval(5.0, self.terminal.check, name="tty-watchdog")
        self.screen_change_signal.subscribe(self, self._screen_changed)
        # Both after the first frame: connecting imports the database layer (asyncpg, the
        # reader), tens of milliseconds the frame would otherwise wait for.
        self.call_after_refresh(self._start_feed)
        self.call_after_refresh(self._mount_panes)

    def _start_feed(self) -> None:
        self.run_worker(self.feed.run(), group="feed", name="feed", exit_on_error=False)

    def _tick(self) -> None:
        with self.batch_update():
            self.retry_at = self.feed.retry_at
            self.now = self.clock.now()
            self._engine_changed()

    def _engine_changed(self) -> None:
        """The status line's engine words: the machine's id (its state and running tasks come
        from the snapshot, so the line and the machines pane agree in every frame) and what
        only this process knows (starting, failed, quitting)."""
        host = self.engine_host
        self.engine_machine = host.node.engine.machine_id if host.node is not None else None
        if self.leaving is not None:
            self.engine_line = "quitting" if self.leaving == "drain" else "quitting now"
        elif host.node is None:
            self.engine_line = host.note  # "engine starting", "engine failed" or ''
        else:
            self.engine_line = ""

    # ------------------------------------------------------------------ the feed

    def _snapshot_read(self, snap: ClusterSnapshot) -> None:
        with self.batch_update():
            self.now = self.clock.now()
            self._engine_changed()
            self.snapshot = snap
        if not self._first_drawn:
            self._first_drawn = True
            self.call_after_refresh(self._settle)
            link = self.feed.link
            if link is not None and link.chain_problem:
                self.call_later(self._chain_note, link.chain_problem)
            self._start_engine()

    async def _chain_note(self, note: str) -> None:
        """Why the chain's figures are missing (a Curio cluster's Lotus node), on the PoSt pane."""
        post = await self.pane_ready("post")
        assert isinstance(post, PANE_KINDS["post"])
        post.chain_note = note

    def _feed_changed(self, state: FeedState) -> None:
        before = self.feed_state
        with self.batch_update():
            self.retry_at = self.feed.retry_at
            self.feed_state = state
        if state.connected and state.error and not before.error:
            self.notify(f"refresh failed: {state.error}", severity="error", timeout=10)

    def watch_paused(self, paused: bool) -> None:
        self.feed.paused = paused

    def watch_refresh_s(self, seconds: float) -> None:
        self.feed.refresh_s = seconds

    @on(Pane.Needs)
    def _pane_needs(self, event: Pane.Needs) -> None:
        # the pane's own section too: the reader re-reads a section that scans a growing
        # table (the queue, the pipeline) at every refresh only while a pane shows it
        section = frozenset({event.pane.SECTION} - {""})
        self._pane_lists, self._history_filter = event.lists | section, event.history_filter
        self._want()

    def _screen_changed(self, _screen: object) -> None:
        self._want()

    def _want(self) -> None:
        """Read the lists the pane on screen shows and those of every screen open above it (a
        sector's detail opened from the palette over the machines pane needs the sectors): a
        view on screen never shows a list the refresh carries over unread."""
        lists = set(self._pane_lists)
        for screen in self.screen_stack:
            lists |= getattr(screen, "LISTS", frozenset())
        self.feed.want(lists, self._history_filter)

    # ------------------------------------------------------------------ this machine

    def _start_engine(self) -> None:
        host = self.engine_host
        link = self.feed.link
        if link is not None and link.foreign:
            # Another system's cluster: harmony never joins it (its machines run Curio's tasks,
            # under Curio's names), whatever the console was started with.
            host.factory = None
            return
        if host.factory is not None and host.node is None and not self.quitting:
            self.start_engine()
        elif host.node is not None:
            self.watch_engine()

    @work(group="engine", exit_on_error=False, name="engine", description="start this machine")
    async def start_engine(self) -> None:
        link = self.feed.link
        assert link is not None
        self.engine_line = "engine starting"
        try:
            await self.engine_host.start(link.url)
        except Exception as exc:
            self.notify(f"the engine did not start: {one_line(exc)}", severity="error", timeout=15)
            return
        finally:
            self._engine_changed()
        self.refresh_now()
        self.watch_engine()

    @work(group="engine-exit", exit_on_error=False, name="engine-exit")
    async def watch_engine(self) -> None:
        """Exit with the engine's code when it asks (100 = restart requested)."""
        code = await self.engine_host.exited()
        if self.quitting:
            return
        self.notify(f"this machine's engine stopped (exit status {code})", severity="warning")
        self.quitting = True
        await self.engine_host.stop("drain")
        self.exit(return_code=code)

    # ------------------------------------------------------------------ panes

    @on(TabbedContent.TabActivated)
    async def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        pane_id = (event.pane.id or f"tab-{FIRST_PANE}").removeprefix("tab-")
        try:
            pane = await self.pane_ready(pane_id)
            if self.query_one("#panes", TabbedContent).active != event.pane.id:
                return  # a later switch already happened; do not pull focus back
        except NoMatches:  # the app is closing and its widgets are gone
            return
        self.active_pane = pane_id
        filter_input = self.query_one("#filter", Input)
        if filter_input.display:
            filter_input.value = pane.filter_text
        focused = self.focused
        if focused is None or pane not in focused.ancestors:
            pane.focus_main()

    async def action_show_pane(self, pane: str) -> None:
        if pane in PANE_KINDS:
            await self.pane_ready(pane)
        self.show_pane(pane)

    def show_pane(self, pane: str) -> None:
        if isinstance(self.screen, ModalScreen) or len(self.screen_stack) > 1:
            with contextlib.suppress(Exception):
                while len(self.screen_stack) > 1:
                    self.pop_screen()
        # The pane renders the latest snapshot now, before the switch is laid out, so the
        # frame that shows it is painted once, with current rows (set only after the tab's
        # TabActivated, it was painted stale first and again a moment later).
        if pane in PANE_KINDS:
            self.active_pane = pane
        self.query_one("#panes", TabbedContent).active = f"tab-{pane}"

    # ------------------------------------------------------------------ keys

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused

    def action_refresh_now(self) -> None:
        self.refresh_now()

    def action_interval(self, direction: int) -> None:
        """``+`` refreshes less often, ``-`` more often (never below once a second)."""
        self.refresh_s = next_interval(self.refresh_s, direction)
        self.notify(f"refreshing every {self.refresh_s:g}s", timeout=2)

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.value = self.pane().filter_text
        box.focus()

    def action_clear_filter(self) -> None:
        pane = self.pane()
        pane.filter_text = ""
        box = self.query_one("#filter", Input)
        if box.display:
            box.value = ""
            box.display = False
            pane.focus_main()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.pane().filter_text = event.value.strip()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.input.display = False
        self.pane().focus_main()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_filter":
            try:
                box = self.query_one("#filter", Input)
                return bool(box.display or self.pane().filter_text)
            except NoMatches:
                return False
        return True

    # ------------------------------------------------------------------ navigation

    @on(Goto)
    async def _goto(self, event: Goto) -> None:
        await self.pane_ready(event.pane)
        self.show_pane(event.pane)
        if event.key is not None:
            self.pane(event.pane).select(event.key, event.view)

    def goto_machine(self, machine_id: int) -> None:
        """Show the machines pane with this machine selected."""
        self.post_message(Goto("machines", str(machine_id)))

    @on(Pane.DetailRequested)
    async def _open_detail(self, event: Pane.DetailRequested) -> None:
        # the detail screens are imported when first opened, not before the first frame
        from .screens.sector import SectorScreen
        from .screens.storage_path import StoragePathScreen
        from .screens.task import TaskScreen

        if event.kind == "machine":
            screen: Any = self._machine_screen(int(event.key))
        elif event.kind == "sector":
            sp_id, sector = (int(part) for part in event.key.split(":"))
            address = miner_address(self.snapshot, sp_id) if self.snapshot else None
            screen = SectorScreen(
                sp_id, sector, address=address, source=self._read_db, read_only=self.read_only
            ).data_bind(HarmonyConsole.snapshot)
        elif event.kind == "task":
            await self._task_history(event.key)
            return
        elif event.kind == "job":
            screen = TaskScreen(int(event.key), source=self._read_db).data_bind(
                HarmonyConsole.snapshot, HarmonyConsole.now
            )
        else:
            screen = StoragePathScreen(event.key).data_bind(HarmonyConsole.snapshot)
        self.push_screen(screen)

    def _read_db(self) -> Any:
        """The reader's pool, for a detail view's own reads of one task or sector (None while
        not connected)."""
        link = self.feed.link
        return link.db if link is not None else None

    async def _task_history(self, task_id: str) -> None:
        """A task's attempts: the tasks pane's history, searched for its id."""
        tasks = await self.pane_ready("tasks")
        self.show_pane("tasks")
        assert isinstance(tasks, PANE_KINDS["tasks"])
        tasks.show_view("history")
        tasks.filter_text = task_id

    def _machine_screen(self, machine_id: int, *, watching: bool = False) -> MachineScreen:
        from .screens.machine import MachineScreen

        return MachineScreen(machine_id, read_only=self.read_only, watching=watching).data_bind(
            HarmonyConsole.snapshot, HarmonyConsole.now, HarmonyConsole.busy
        )

    # ------------------------------------------------------------------ actions

    def on_machines_pane_action_requested(self, event: MachinesPane.ActionRequested) -> None:
        from .actions import AdminAction

        if self.read_only or self.busy or self.snapshot is None:
            return
        snap = self.snapshot
        if not offer(snap.cluster, event.kind, snap.machine(event.machine_id)):
            return
        from engine.snapshot import drain_plan

        plan = drain_plan(snap, event.machine_id, self.now)
        if plan is None:
            self.notify(
                f"machine {event.machine_id} is not in the cluster any more", severity="warning"
            )
            return
        action = AdminAction(event.kind, event.machine_id, plan.machine.label)

        def confirmed(ok: bool | None) -> None:
            if ok:
                self.admin(action)

        from .screens.confirm import MachineActionScreen

        dialog = MachineActionScreen(event.kind, plan, cluster=snap.cluster).data_bind(
            HarmonyConsole.snapshot, HarmonyConsole.now
        )
        self.push_screen(dialog, confirmed)

    def on_tasks_pane_restart_requested(self, event: TasksPane.RestartRequested) -> None:
        from .actions import AdminAction

        cluster = self.snapshot.cluster if self.snapshot is not None else "harmony"
        if not self.read_only and not self.busy and offer(cluster, "restart"):
            self.admin(AdminAction("restart", event.task_id))

    def on_alerts_pane_change_requested(self, event: AlertsPane.ChangeRequested) -> None:
        """``a``/``m`` in the Alerts pane: refused (read-only, Curio) or confirmed, then done
        in the admin group off the event loop."""
        from .alert_actions import refusal

        cluster = self.snapshot.cluster if self.snapshot is not None else "harmony"
        why = refusal(event.kind, read_only=self.read_only, cluster=cluster)
        if why is not None:
            self.notify(why, severity="warning", timeout=8)
            return
        if self.busy:
            return
        from .screens.alert_change import AckScreen, MuteScreen

        alert = event.alert
        if event.kind == "ack":
            self.push_screen(AckScreen(alert), lambda ok: ok and self.alert_admin("ack", alert))
        else:
            self.push_screen(
                MuteScreen(alert),
                lambda s: s is not None and self.alert_admin("mute", alert, s),
            )

    @work(group="admin", exit_on_error=False, name="alert-admin", description="alert change")
    async def alert_admin(self, kind: Any, alert: Any, seconds: float = 0.0) -> None:
        from .actions import ActionFailed
        from .alert_actions import change_alert

        link = self.feed.link
        if link is None or link.action_db is None:
            return
        self.busy = True
        try:
            self.notify(await change_alert(link.action_db, kind, alert, seconds=seconds))
        except ActionFailed as exc:
            self.notify(str(exc), severity="error")
        finally:
            self.busy = False
            self.refresh_now()

    def on_post_pane_check_requested(self, event: PostPane.CheckRequested) -> None:
        """``enter`` on a deadline: its provability check, on the reader's pool (it only
        reads), in the screen's worker."""
        from engine.tasks.window.check import check_provable, deadline_partitions

        from .screens.proving_check import ProvingCheckScreen

        link = self.feed.link
        if link is None:
            return
        if link.foreign:
            self.notify(
                "a Curio cluster: the provability check reads sectors sealed by harmony's own "
                "proofs, and Curio's are sealed by Filecoin's (Poseidon trees); Curio checks "
                "each sector before it proves it. Nothing was read",
                severity="warning",
                timeout=8,
            )
            return
        db, sp_id, deadline = link.db, event.sp_id, event.deadline
        self.push_screen(
            ProvingCheckScreen(
                event.address,
                deadline,
                lambda: deadline_partitions(db, sp_id, deadline),
                lambda part: check_provable(db, sp_id, deadline, partition=part),
            )
        )

    @on(ResumeRequested)
    def _resume(self, event: ResumeRequested) -> None:
        """``r`` on a failed sector: refused read-only or on a Curio cluster, else confirmed."""
        from .actions import AdminAction

        cluster = self.snapshot.cluster if self.snapshot is not None else "harmony"
        if self.read_only or not offer(cluster, "resume"):
            why = "the console is read-only" if self.read_only else "Curio's sectors are read-only"
            self.notify(f"resume refused: {why}", severity="error")
            return
        if self.busy:
            return
        from .screens.confirm_sector import RESUME_WHAT, SectorActionScreen

        action = AdminAction("resume", event.sector, event.label, sp_id=event.sp_id)
        self.push_screen(
            SectorActionScreen("Resume", f"sector {event.label}", RESUME_WHAT),
            lambda ok: ok and self.admin(action),
        )

    @work(group="admin", exit_on_error=False, name="admin", description="operator action")
    async def admin(self, action: AdminAction) -> None:
        """The one worker that changes the cluster; one action at a time (``busy``)."""
        from .actions import ActionFailed, perform

        link = self.feed.link
        if link is None or link.action_db is None:
            return
        self.busy = True
        try:
            self.notify(await perform(link.action_db, action, cluster=link.cluster_kind.value))
        except ActionFailed as exc:
            self.notify(str(exc), severity="error")
            return
        finally:
            self.busy = False
            self.refresh_now()
        if action.kind == "drain" and link.foreign:
            # Curio has no drain: the cordon is in place, now watch its running tasks end.
            self._watch_drain(action.target)

    def _watch_drain(self, machine_id: int) -> None:
        from .screens.machine import MachineScreen

        screen = self.screen
        if isinstance(screen, MachineScreen) and screen.machine_id == machine_id:
            screen.watching = True
            self.refresh_now()
            return
        self.push_screen(self._machine_screen(machine_id, watching=True))

    # ------------------------------------------------------------------ quitting

    def action_quit_console(self) -> None:
        from .screens.quit import QuitScreen

        running = self.engine_host.running
        if running:
            dialog = QuitScreen(running, self.engine_machine).data_bind(HarmonyConsole.snapshot)
            self.push_screen(dialog, self._quit_choice)
        else:
            self.shutdown("drain")

    def _quit_choice(self, choice: str | None) -> None:
        if choice == "drain" or choice == "now":
            self.shutdown(choice)

    @work(group="quit", exclusive=True, exit_on_error=False, name="quit")
    async def shutdown(self, how: StopHow) -> None:
        self.quitting = True
        if self.engine_host.node is None:
            for worker in self.workers:
                if worker.group == "engine":
                    worker.cancel()
        else:
            self.leaving = how
            self._engine_changed()
            await self.engine_host.stop(how)
        self.exit(return_code=0)

    async def on_unmount(self) -> None:
        self.terminal.remove()
        await self.feed.close()
        collector.restore()


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
    stale_after: float = 10.0,
    stuck_after: float = 12 * 3600.0,
    theme: str | None = None,
    animations: bool = True,
    watchdog: bool = True,
    lotus_api: str | None = None,
) -> HarmonyConsole:
    """The console app, for ``harmony`` and for tests.

    Args:
        db_url: PostgreSQL/YugabyteDB URL; None starts (or joins) the embedded server in
            ``data_dir``.
        schema: the cluster's schema.
        clock: now, monotonic time and sleeps (tests pass a
            :class:`~engine.clock.ManualClock` held at the fixture's instant).
        engine: this process's machine: a running :class:`~engine.node.Node`, or a factory
            called with the URL once the console is on screen; None for a console only.
        refresh_s: seconds between refreshes (``+``/``-`` change it).
        read_only: no engine, no actions; works under a role that may only SELECT.
        label: what the status line calls the database (default ``schema @ host``).
        lotus_api: a Curio cluster's Lotus node (``TOKEN:/ip4/HOST/tcp/PORT/http``); None:
            ``FULLNODE_API_INFO``, then Curio's ``[Apis] ChainApiInfo`` config layers.
    """
    if read_only and engine is not None:
        raise ValueError("a read-only console runs no engine")
    if engine is not None:
        prestart_worker_processes()  # before Textual takes over stdio
    target = Target(
        db_url,
        schema,
        read_only=read_only,
        migrate=migrate,
        data_dir=data_dir,
        label=label,
        stale_after=stale_after,
        stuck_after=stuck_after,
        lotus_api=lotus_api,
    )
    app = HarmonyConsole(
        target, clock=clock, engine=engine, refresh_s=refresh_s, theme=theme, watchdog=watchdog
    )
    if not animations:
        app.animation_level = "none"
    return app
