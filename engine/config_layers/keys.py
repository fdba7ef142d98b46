"""What a layer may hold, and the checks every layer passes before it is stored or used.

A layer is flat TOML: ``key = value`` lines, one key per machine option (``heartbeat = 5``,
``tasks = ["SDR", "TreeD"]``). The keys are handed in by the caller (the command line derives
them from its options, so every option has a key); here they are only checked and merged. An
unknown key, a value of the wrong TOML type, or one the option itself refuses fails with an
error naming the layer and the key, so nothing bad is ever stored and a machine never starts on
half a configuration.
"""

from __future__ import annotations

import enum
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.harmonydb import HarmonyDBError

__all__ = ["Key", "KeyKind", "LayerError", "Merged", "merge", "parse_layer"]


class LayerError(HarmonyDBError):
    """A layer that cannot be used: bad TOML, an unknown key, a value of the wrong type."""


class KeyKind(enum.Enum):
    """The TOML type a key takes."""

    BOOL = "boolean"
    INT = "integer"
    NUMBER = "number"
    STRING = "string"
    #: an array of strings, or one string of comma-separated names (as on the command line)
    LIST = "list of strings"


@dataclass(frozen=True)
class Key:
    #: the TOML key, the option's long name without ``--`` (``machine-timeout``)
    name: str
    #: where the value goes (the option's ``dest``)
    dest: str
    kind: KeyKind
    help: str = ""
    #: the option's own check, fed the value as command-line text; raises on a bad value
    parse: Callable[[str], Any] | None = None
    choices: tuple[Any, ...] | None = None
    #: what applies when no layer and no flag sets it (shown by ``config effective``)
    default: Any = None


@dataclass
class Merged:
    """The result of layers merged over defaults: each key's value and where it came from."""

    values: dict[str, Any] = field(default_factory=dict)
    #: key name → the layer that set it last (``default`` when none did)
    origin: dict[str, str] = field(default_factory=dict)


def parse_layer(title: str, text: str, keys: Iterable[Key]) -> dict[str, Any]:
    """The values of layer ``title`` (by key name, converted as the option converts them).

    Raises :class:`LayerError` naming the layer, and the key where one is at fault.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LayerError(f"layer {title!r} is not valid TOML: {exc}") from None
    known = {key.name: key for key in keys}
    values: dict[str, Any] = {}
    for name, raw in document.items():
        key = known.get(name) or known.get(name.replace("_", "-"))
        if key is None:
            hint = "a table" if isinstance(raw, dict) else "a key"
            raise LayerError(
                f"layer {title!r}: unknown key {name!r} ({hint}; layers hold flat keys: "
                f"{', '.join(sorted(known))})"
            )
        if key.name in values:
            raise LayerError(f"layer {title!r}: key {key.name!r} given twice")
        values[key.name] = convert(title, key, raw)
    return values


def convert(title: str, key: Key, raw: Any) -> Any:
    """``raw`` (a TOML value) checked and converted as the option's own parser does."""

    def fail(why: str) -> LayerError:
        return LayerError(f"layer {title!r}: key {key.name!r}: {why}")

    kind = key.kind
    if kind is KeyKind.BOOL:
        if not isinstance(raw, bool):
            raise fail(f"expected true or false, got {_shown(raw)}")
        return raw
    if kind is KeyKind.INT and (isinstance(raw, bool) or not isinstance(raw, int)):
        raise fail(f"expected a whole number, got {_shown(raw)}")
    if kind is KeyKind.NUMBER and (isinstance(raw, bool) or not isinstance(raw, int | float)):
        raise fail(f"expected a number, got {_shown(raw)}")
    if kind is KeyKind.STRING and not isinstance(raw, str):
        raise fail(f"expected a string, got {_shown(raw)}")
    if kind is KeyKind.LIST:
        if isinstance(raw, list):
            if not all(isinstance(item, str) and item.strip() for item in raw):
                raise fail(f"expected an array of names, got {_shown(raw)}")
            if any("," in item for item in raw):
                raise fail("a name in the array holds a comma")
            raw = ",".join(item.strip() for item in raw)
        elif not isinstance(raw, str):
            raise fail(f"expected an array of strings, got {_shown(raw)}")
    text = raw if isinstance(raw, str) else repr(raw)
    value: Any = raw
    if key.parse is not None:
        try:
            value = key.parse(text)
        except Exception as exc:  # argparse.ArgumentTypeError, ValueError, ...
            raise fail(str(exc) or f"invalid value {text!r}") from None
    if key.choices is not None and value not in key.choices:
        allowed = ", ".join(repr(c) for c in key.choices)
        raise fail(f"{value!r} is not one of {allowed}")
    return value


def _shown(raw: Any) -> str:
    kind = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(raw), type(raw).__name__)
    text = repr(raw)
    return f"{kind} ({text if len(text) <= 40 else text[:37] + '...'})"


def merge(layers: Sequence[tuple[str, Mapping[str, Any]]], keys: Iterable[Key]) -> Merged:
    """Each key's value: its default, then every layer in order, the last one that sets it
    winning (``layers`` as ``(title, values)`` pairs from :func:`parse_layer`)."""
    merged = Merged()
    for key in keys:
        merged.values[key.name] = key.default
        merged.origin[key.name] = "default"
    for title, values in layers:
        for name, value in values.items():
            merged.values[name] = value
            merged.origin[name] = title
    return merged
