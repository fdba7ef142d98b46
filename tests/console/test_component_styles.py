"""Component styles restyled in place give what Textual's own restyle gives, keep one style
node per component for the widget's life, and still repaint a widget whose component styles
changed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.dom import DOMNode
from textual.widget import Widget
from textual.widgets import DataTable, Input, Static

from console import component_styles


class Part(Widget):
    """Its text takes the colour of a component class that only its ``on`` class changes."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"part--text"}
    DEFAULT_CSS = """
    Part { height: 1; }
    Part > .part--text { color: #0000ff; }
    Part.on > .part--text { color: #ff0000; }
    """

    def render(self) -> Text:
        return Text("part", style=self.get_component_rich_style("part--text"))


class Bare(Widget):
    """Its component has a rule only while the widget has the ``on`` class: with it gone, no
    rule matches the component at all."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"bare--text"}
    DEFAULT_CSS = """
    Bare { height: 1; }
    Bare.on > .bare--text { color: #00ff00; }
    """

    def render(self) -> Text:
        return Text("bare", style=self.get_component_rich_style("bare--text"))


class Panes(App[None]):
    CSS = """
    .hidden { display: none; }
    #second > .datatable--header { background: #102030; }
    """

    def compose(self) -> ComposeResult:
        for name in ("first", "second"):
            table: DataTable[str] = DataTable(id=name)
            table.add_columns("machine", "state")
            table.add_rows([("vm-1", "active"), ("vm-2", "draining")])
            yield table
        yield Input(placeholder="filter")
        yield Static("status")
        yield Part()
        yield Bare()


def styled(app: App[object]) -> Iterator[tuple[DOMNode, str, DOMNode]]:
    """Every (widget, component, style node) on the screen."""
    for node in app.screen.walk_children(with_self=True):
        for component, styles in node._component_styles.items():
            assert styles.node is not None
            yield node, component, styles.node


def textuals(app: App[object], node: DOMNode, component: str) -> tuple[dict, dict]:
    """The rules Textual's restyle gives ``component`` of ``node`` now: a new style node."""
    fresh = DOMNode(classes=component)
    fresh._attach(node)
    app.stylesheet.apply(fresh, animate=False)
    return component_styles._rules(fresh)


async def test_restyles_give_textuals_styles_on_the_same_style_nodes() -> None:
    component_styles.install()
    app = Panes()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        first = {(id(node), component): virtual for node, component, virtual in styled(app)}
        assert len(first) >= 20  # two tables' components, the input's, the part's

        def check(step: str) -> None:
            seen = 0
            for node, component, virtual in styled(app):
                assert virtual is first[id(node), component], (step, component)
                assert virtual._parent is node
                want = textuals(app, node, component)
                assert component_styles._rules(virtual) == want, (step, node, component)
                seen += 1
            assert seen == len(first), step

        check("mounted")
        steps = [
            ("first table focused", lambda: app.query_one("#first").focus()),
            ("second table focused", lambda: app.query_one("#second").focus()),
            ("input focused", lambda: app.query_one(Input).focus()),
            ("first table hidden", lambda: app.query_one("#first").add_class("hidden")),
            ("first table shown", lambda: app.query_one("#first").remove_class("hidden")),
            ("part on", lambda: app.query_one(Part).add_class("on")),
            ("bare on", lambda: app.query_one(Bare).add_class("on")),
            ("bare off", lambda: app.query_one(Bare).remove_class("on")),
            ("light theme", lambda: setattr(app, "theme", "textual-light")),
            ("dark theme", lambda: setattr(app, "theme", "textual-dark")),
        ]
        focused_cursor = None
        for step, act in steps:
            act()
            await pilot.pause()
            check(step)
            if step == "second table focused":
                second = app.query_one("#second")
                focused_cursor = component_styles._rules(
                    second._component_styles["datatable--cursor"].node
                )
        # the focus rules did reach the cursor's style node, in place
        second = app.query_one("#second")
        blurred = component_styles._rules(second._component_styles["datatable--cursor"].node)
        assert focused_cursor is not None and focused_cursor != blurred


async def painted_as_on_goes(install: bool) -> list[tuple[bool, bool]]:
    """Whether the part's text is painted red and the bare widget's green: at first, with
    both widgets' ``on`` class set, and with it taken away again."""
    if install:
        component_styles.install()
    else:
        component_styles.uninstall()
    app = Panes()
    seen: list[tuple[bool, bool]] = []
    try:
        async with app.run_test(size=(40, 12)) as pilot:
            for change in (None, "add_class", "remove_class"):
                if change is not None:
                    for widget in (app.query_one(Part), app.query_one(Bare)):
                        getattr(widget, change)("on")
                await pilot.pause()
                shot = app.export_screenshot()
                seen.append(("#ff0000" in shot, "#00ff00" in shot))
    finally:
        component_styles.install()
    return seen


async def test_a_changed_component_style_repaints_the_widget_as_textuals_does() -> None:
    """Only the components' rules change with ``on``, not the widgets' own: the repaints
    come from the components' changed rules alone, and a component no rule matches any more
    loses the rules it had."""
    want = [(False, False), (True, True), (False, False)]
    assert await painted_as_on_goes(install=False) == want
    assert await painted_as_on_goes(install=True) == want
