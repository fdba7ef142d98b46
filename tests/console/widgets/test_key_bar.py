"""The key bar draws the focused view's keys as one line, as Textual's footer did, follows
focus and bindings, and presses a key when it is clicked."""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from console.widgets.key_bar import KeyBar


class Panel(Static, can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "restart", "Restart"),
        Binding("d", "drain", "Drain"),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return None if action == "drain" and self.app.draining else True

    def action_restart(self) -> None:
        self.app.pressed.append("restart")


class Bar(App[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("x", "hidden", "Hidden", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.pressed: list[str] = []
        self.draining = False

    def compose(self) -> ComposeResult:
        yield Panel("one", id="one")
        yield Static("two", id="two")
        yield KeyBar()

    def action_help(self) -> None:
        self.pressed.append("help")


def line(app: Bar) -> str:
    return str(app.query_one(KeyBar).render())


async def test_it_shows_the_focused_views_keys_and_follows_focus() -> None:
    app = Bar()
    async with app.run_test(size=(80, 5)) as pilot:
        await pilot.pause()  # the panel has focus from the start
        assert line(app) == " r Restart  d Drain  q Quit  ? Help "
        app.set_focus(None)
        await pilot.pause()
        assert line(app) == " q Quit  ? Help "
        app.query_one("#one").focus()
        await pilot.pause()
        assert line(app) == " r Restart  d Drain  q Quit  ? Help "


async def test_a_disabled_key_is_dimmed_and_a_click_on_it_only_rings() -> None:
    app = Bar()
    async with app.run_test(size=(80, 5)) as pilot:
        app.query_one("#one").focus()
        app.draining = True
        app.screen.refresh_bindings()
        await pilot.pause()
        bar = app.query_one(KeyBar)
        drain = next(o for o in bar.offers if o.key == "d")
        assert not drain.enabled
        rendered = bar.render()
        start = str(rendered).index(" d ")
        assert all(span.style.dim for span in rendered.spans if span.start == start)
        await pilot.click(KeyBar, offset=(start + 1, 0))
        await pilot.pause()
        assert app.pressed == []


async def test_a_click_on_a_key_presses_it() -> None:
    app = Bar()
    async with app.run_test(size=(80, 5)) as pilot:
        app.query_one("#one").focus()
        await pilot.pause()
        text = line(app)
        await pilot.click(KeyBar, offset=(text.index(" r ") + 1, 0))
        await pilot.click(KeyBar, offset=(text.index("Help"), 0))
        await pilot.click(KeyBar, offset=(len(text) + 5, 0))  # past the keys: nothing
        await pilot.pause()
        assert app.pressed == ["restart", "help"]


async def test_the_same_keys_announced_again_keep_the_line() -> None:
    app = Bar()
    async with app.run_test(size=(80, 5)) as pilot:
        await pilot.pause()
        bar = app.query_one(KeyBar)
        offers = bar.offers
        app.screen.refresh_bindings()
        await pilot.pause()
        assert bar.offers is offers
