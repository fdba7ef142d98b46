"""The key bar at the bottom: the keys the focused view offers, drawn as one line.

Textual's ``Footer`` is a container of one widget per key, recomposed whenever the bindings
change: every pane switch (each pane offers its own keys) built ten or more new widgets, styled
each (with its two sub-styles) and laid them out, a third of a switch's time in
``harmony bench console``. This bar is one widget: a change of keys rebuilds one line of text,
and a change that offers the same keys (focus moving inside a pane, a refresh) only compares a
tuple. It looks and answers the mouse as the footer did: a click on a key presses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget

__all__ = ["KeyBar", "Offer", "offers_of"]

_DIM = Style(dim=True)


@dataclass(frozen=True)
class Offer:
    """One key as the bar shows it."""

    key: str  #: the key as Textual names it (what a click presses)
    display: str  #: the key as shown
    description: str
    enabled: bool


def offers_of(screen: Screen) -> tuple[Offer, ...]:
    """The keys ``screen`` offers now, in the order Textual's footer shows them: one per
    action (the first key bound to it), only bindings with ``show``."""
    seen: set[str] = set()
    offers = []
    for _node, binding, enabled, _tooltip in screen.active_bindings.values():
        if not binding.show or binding.action in seen:
            continue
        seen.add(binding.action)
        offers.append(
            Offer(binding.key, screen.app.get_key_display(binding), binding.description, enabled)
        )
    return tuple(offers)


class KeyBar(Widget, can_focus=False):
    """One line of keys: ``key description`` pairs, disabled ones dimmed; click to press."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-bar--key", "key-bar--description"}
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        width: 1fr;
        color: $footer-foreground;
        background: $footer-background;
        text-wrap: nowrap;
        text-overflow: clip;
        & > .key-bar--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        & > .key-bar--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.offers: tuple[Offer, ...] = ()
        self._spans: list[tuple[int, int, Offer]] = []  # columns each key covers, for clicks

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        if screen is not self.screen:
            return
        offers = offers_of(screen)
        if offers != self.offers:
            self.offers = offers
            self.refresh()

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-bar--key")
        description_style = self.get_component_rich_style("key-bar--description")
        line = Text(no_wrap=True, overflow="crop", end="")
        dimmed = (key_style + _DIM, description_style + _DIM)
        spans = []
        for offer in self.offers:
            start = len(line)
            key, description = (key_style, description_style) if offer.enabled else dimmed
            line.append(f" {offer.display} ", style=key)
            if offer.description:
                line.append(f"{offer.description} ", style=description)
            spans.append((start, len(line), offer))
        self._spans = spans
        return line

    def offer_at(self, x: int) -> Offer | None:
        """The key drawn at column ``x``, if any."""
        return next((offer for start, end, offer in self._spans if start <= x < end), None)

    def on_click(self, event: events.Click) -> None:
        offer = self.offer_at(event.x)
        if offer is None:
            return
        if offer.enabled:
            self.app.simulate_key(offer.key)
        else:
            self.app.bell()
