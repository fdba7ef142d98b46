"""Cell renderings shared by the panes: numbers, ages, bars and the theme's semantic styles.

Everything returns ``rich.text.Text`` (data is never parsed as markup). Colours come from the
current Textual theme's variables (``$text-success``, ``$text-warning``, ``$text-error``, ...),
so a theme change, 16-colour terminals and ``NO_COLOR`` all apply; meaning never rests on colour
alone (bars use ``#``/``*``, states are words, the deadline strip has one glyph per kind).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.style import Style
from rich.text import Text
from textual.app import App
from textual.color import Color

from engine.snapshot import duration

if TYPE_CHECKING:
    from engine.snapshot import ClusterSnapshot

__all__ = [
    "Styles",
    "age",
    "bar",
    "ident",
    "level_style",
    "miner_address",
    "num",
    "short_size",
    "styles_for",
    "text",
]


@dataclass(frozen=True)
class Styles:
    ok: Style
    warn: Style
    crit: Style
    info: Style
    accent: Style
    dim: Style
    bold: Style


def _color(app: App[object], name: str, fallback: str) -> Style:
    value = app.theme_variables.get(name, fallback)
    try:
        return Style(color=Color.parse(value).rich_color)
    except Exception:
        return Style(color=Color.parse(fallback).rich_color)


def styles_for(app: App[object]) -> Styles:
    """The theme's semantic colours as Rich styles."""
    return Styles(
        ok=_color(app, "text-success", "#8AD4A1"),
        warn=_color(app, "text-warning", "#FFC473"),
        crit=_color(app, "text-error", "#D17E92") + Style(bold=True),
        info=_color(app, "text-primary", "#57A5E2"),
        accent=_color(app, "text-accent", "#FFC473"),
        dim=Style(dim=True),
        bold=Style(bold=True),
    )


def text(value: object, style: Style | str = "", *, right: bool = False) -> Text:
    """Any value as plain text (never markup)."""
    return Text(
        "" if value is None else str(value),
        style=style,
        justify="right" if right else "left",
        no_wrap=True,
        overflow="ellipsis",
    )


def num(value: int | float | None, style: Style | str = "") -> Text:
    """A right-aligned count with thousands separators; a dim dash for None."""
    if value is None:
        return Text("-", style="dim", justify="right")
    shown = f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"
    return Text(shown, style=style, justify="right", no_wrap=True)


def ident(value: int | str | None, style: Style | str = "") -> Text:
    """An id or sector number: right-aligned, no thousands separators."""
    return Text("-" if value is None else str(value), style=style, justify="right", no_wrap=True)


def age(seconds: float | None, style: Style | str = "", *, right: bool = True) -> Text:
    if seconds is None:
        return Text("-", style="dim", justify="right" if right else "left")
    return Text(duration(seconds), style=style, justify="right" if right else "left", no_wrap=True)


def level_style(styles: Styles, fraction: float, warn: float = 0.9, crit: float = 0.98) -> Style:
    """``storage list``'s colours: green, yellow above 90 %, red above 98 %."""
    if fraction > crit:
        return styles.crit
    if fraction > warn:
        return styles.warn
    return styles.ok


def bar(
    fraction: float | None,
    width: int,
    styles: Styles,
    *,
    reserved: float = 0.0,
    warn: float = 0.9,
    crit: float = 0.98,
    suffix: str = "",
) -> Text:
    """``[###**     ]``: ``#`` used, ``*`` reserved, space free, coloured by level."""
    if fraction is None:
        return Text("[" + "?".center(width) + "]" + suffix, style="dim", no_wrap=True)
    fraction = min(max(fraction, 0.0), 1.0)
    reserved = min(max(reserved, 0.0), 1.0 - fraction)
    used_cols = int(fraction * width)
    reserved_cols = min(round(reserved * width), width - used_cols)
    style = level_style(styles, fraction + reserved, warn, crit)
    out = Text("[", no_wrap=True)
    out.append("#" * used_cols, style=style)
    out.append("*" * reserved_cols, style=styles.warn)
    out.append(" " * (width - used_cols - reserved_cols))
    out.append("]")
    if suffix:
        out.append(suffix, style=style)
    return out


def short_size(size: int | None) -> str:
    """``256G``, ``1.5T``, ``512M``: binary units in at most four characters."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "K", "M", "G", "T", "P"):
        if value < 1024 or unit == "P":
            if unit == "B":
                return f"{int(value)}B"
            return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"
        value /= 1024
    return f"{value:.0f}P"


def miner_address(snap: ClusterSnapshot, sp_id: int) -> str:
    """A miner as its network writes it: ``f0…`` on mainnet, ``t0…`` on test networks.

    The PoSt section knows the network's prefix; before it does (or when it failed), a
    machine that serves the miner names it (Curio's details list ``f01000``); else ``t0``, our
    devnet's."""
    post = snap.post.miners
    known = next((m.address for m in post if m.sp_id == sp_id), None)
    if known is not None:
        return known
    if post:
        return f"{post[0].address_prefix}{sp_id}"
    served = (a for m in snap.machines for a in m.miners if a[:2] in ("f0", "t0"))
    named = next((a for a in served if a[2:] == str(sp_id)), None)
    return named or f"t0{sp_id}"
