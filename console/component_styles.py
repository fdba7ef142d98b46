"""Textual's component styles restyled in place: no new style node at every restyle.

A widget's component classes (a table's header, cursor, hover and stripe rows) take their
styles from the stylesheet through a *virtual node*: a bare ``DOMNode`` with the component's
class, attached under the widget, that the stylesheet is applied to like any node. Textual 8.2
makes a new one for every component class each time the widget is restyled (on every focus
change, hover, class change, a pane shown or hidden), and drops the one before.

Each virtual node is a ``DOMNode``, so a message pump too: some 40 tracked objects around it,
in reference cycles (the node and its styles point at each other). A dropped one is freed only
by the cyclic collector, and by then it has lived since the restyle before, long enough to be
promoted to the oldest generation. On the console benchmark these nodes were most of what
reached the oldest generation: of 39,000 objects one full pass freed, 855 were such nodes, and
by type most of the rest were the objects around them. Promotions are what set off a full
pass, the longest pause the console has (:mod:`console.collector`).

Here the stylesheet is applied again to the virtual node the widget already has, its rules
cleared first as a new node's are, and a new one is made only for a component that has none
yet. Whether the widget is refreshed follows
Textual's rule: its rules changed (Textual compares the new node's styles with the old one's;
here the rules before the apply with those after). On the console benchmark, alternating
120 s runs with and without this: young passes 43-44 against 82-84, middle passes 7 against
13, no full pass against one, peak RSS 72 against 80 MB.

tests/console/test_component_styles.py holds the styles against Textual's own restyle for the
console's widgets in every state the panes use. Textual is pinned to one version in
pyproject.toml; an upgrade that changes this part fails those tests.
"""

from __future__ import annotations

from textual.css.styles import RenderStyles
from textual.css.stylesheet import Stylesheet
from textual.dom import DOMNode

__all__ = ["install", "uninstall"]

_stock = Stylesheet._process_component_classes


def _rules(node: DOMNode) -> tuple[dict[str, object], dict[str, object]]:
    """What a node's styles compare by (``RenderStyles.__eq__``): its base and inline rules."""
    styles = node.styles
    return dict(styles._base_styles._rules), dict(styles._inline_styles._rules)


def _process_component_classes(self: Stylesheet, node: DOMNode) -> None:
    component_classes = node._get_component_classes()
    if not component_classes:
        return
    refresh_node = False
    old = node._component_styles
    kept: dict[str, RenderStyles] = {}
    for component in sorted(component_classes):
        styles = old.get(component)
        virtual = styles.node if styles is not None else None
        if virtual is not None and virtual._parent is node:
            before = _rules(virtual)
            # as bare as a new node: Stylesheet.apply replaces the rules only when some rule
            # matches, so a component no rule matches any more would keep its old ones
            virtual.styles.base.reset()
            self.apply(virtual, animate=False)
            changed = _rules(virtual) != before
        else:
            virtual = DOMNode(classes=component)
            virtual._attach(node)
            self.apply(virtual, animate=False)
            changed = styles != virtual.styles
        refresh_node = refresh_node or changed
        kept[component] = virtual.styles
    node._component_styles.clear()
    node._component_styles.update(kept)
    if refresh_node:
        node.refresh()


def install() -> None:
    """Restyle component classes in place (idempotent)."""
    Stylesheet._process_component_classes = _process_component_classes  # type: ignore[method-assign]


def uninstall() -> None:
    """Textual's own restyle back (for the tests that compare the two)."""
    Stylesheet._process_component_classes = _stock  # type: ignore[method-assign]
