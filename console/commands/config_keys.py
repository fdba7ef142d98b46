"""The config layers' keys, derived from ``harmony run``'s machine options, and applying layers.

Every machine option is a key of the same name (``--machine-timeout`` is ``machine-timeout``),
with the option's own type check, so an option added to :mod:`.machine_options` is a layer key
at once. Precedence: the option's default < each layer in ``--layers`` order (``base`` first
whenever it exists) < the option typed on the command line (:mod:`.given`).
"""

from __future__ import annotations

import argparse
import functools
import re
import textwrap
import typing
from typing import Any

import tomlkit

from engine.config_layers import Key, KeyKind, Merged, merge, parse_layer, read_layers

from .given import given_options
from .machine_options import add_machine_options

if typing.TYPE_CHECKING:
    from engine.harmonydb import DB

__all__ = [
    "NOT_KEYS",
    "apply_layers",
    "effective_toml",
    "layer_keys",
    "named_layers",
    "new_layer_template",
]

#: Machine options that are no layer key, and why.
NOT_KEYS = {
    "engine_only": "whether the process opens the console is the command's choice",
    "name": "a machine's identity is its own: a layer that several machines share would make "
    "them one",
    "layers": "a layer does not name layers",
}

COMMAND_LINE = "command line"


@functools.cache
def layer_keys() -> tuple[Key, ...]:
    """One key per machine option (less :data:`NOT_KEYS`), in the options' order."""
    parser = argparse.ArgumentParser(add_help=False)
    add_machine_options(parser)
    keys = []
    for action in parser._actions:
        if not action.option_strings or action.dest in NOT_KEYS:
            continue
        flag = next((o for o in action.option_strings if o.startswith("--")), None)
        if flag is None:
            continue
        keys.append(
            Key(
                name=flag[2:],
                dest=action.dest,
                kind=_kind(action),
                help=(action.help or "").replace("%%", "%"),
                parse=action.type if callable(action.type) else None,
                choices=tuple(action.choices) if action.choices else None,
                default=action.default,
            )
        )
    return tuple(keys)


def _kind(action: argparse.Action) -> KeyKind:
    if action.nargs == 0:  # store_true / store_false / store_const
        return KeyKind.BOOL
    if isinstance(action.metavar, str) and "," in action.metavar:  # NAME,... lists
        return KeyKind.LIST
    if action.type is int:
        return KeyKind.INT
    if action.type is float:
        return KeyKind.NUMBER
    if callable(action.type):
        try:
            returns = typing.get_type_hints(action.type).get("return")
        except Exception:
            returns = None
        if returns is int:
            return KeyKind.INT
        if returns is float:
            return KeyKind.NUMBER
    return KeyKind.STRING


def named_layers(args: argparse.Namespace) -> list[str]:
    """The layers ``--layers`` names, in order."""
    text = getattr(args, "layers", None) or ""
    return [name.strip() for name in text.split(",") if name.strip()]


async def apply_layers(db: DB, args: argparse.Namespace) -> Merged:
    """Read the layers ``args`` names (``base`` first if it exists), check them, and set on
    ``args`` every key a layer sets and the command line did not. Returns the merged values
    with each one's origin (``default``, a layer's name, or ``command line``).

    Raises :class:`~engine.config_layers.LayerMissing` (a named layer is not there) or
    :class:`~engine.config_layers.LayerError` (a layer no longer passes the checks: it was
    stored by another version, or the options changed), before anything uses ``args``.
    """
    keys = layer_keys()
    layers = await read_layers(db, named_layers(args))
    merged = merge(
        [(layer.title, parse_layer(layer.title, layer.config, keys)) for layer in layers], keys
    )
    given = given_options(args)
    for key in keys:
        if key.dest in given:
            merged.values[key.name] = getattr(args, key.dest)
            merged.origin[key.name] = COMMAND_LINE
        elif merged.origin[key.name] != "default":
            setattr(args, key.dest, merged.values[key.name])
    return merged


_DEFAULT_IN_HELP = re.compile(r"\(default:? ([^;)]*)")
_NUMBER_IN_HELP = re.compile(r"\((?:default:? )?([0-9][0-9.]*)\b")


def _defaults_not_in_help() -> dict[str, str]:
    """What applies when nothing sets these keys, from the code that applies it: their help
    does not say it as ``(default X`` (it says "12 until set", "Default 127.0.0.1:0: ...")."""
    from engine.harmonytask.settings import DEFAULT_MACHINE_TIMEOUT
    from engine.storage.remote.server import DEFAULT_LISTEN

    return {
        "machine-timeout": "default: the cluster's value, "
        f"{DEFAULT_MACHINE_TIMEOUT:g} until one is set",
        "storage-listen": f"default {DEFAULT_LISTEN}: loopback only, any free port",
        "max-tasks": "default: no caps beyond each type's own",
        "alerts-webhook": "default: none, or HARMONY_ALERTS_WEBHOOK",
        "metrics-listen": "default: off",
    }


def _default_text(key: Key) -> str:
    """What applies when nothing sets ``key``, as the code or its option's help says it."""
    if key.default not in (None, False):
        return f"default {key.default}"
    known = _defaults_not_in_help().get(key.name)
    if known is not None:
        return known
    found = _DEFAULT_IN_HELP.search(key.help)
    if found:
        return f"default {found.group(1).strip()}"
    return "default: off" if key.kind is KeyKind.BOOL else "default: not set"


def _toml_value(key: Key, value: Any) -> Any:
    if key.kind is KeyKind.LIST and isinstance(value, str):
        return [name.strip() for name in value.split(",") if name.strip()]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int | float | str | bool):
        return value
    return str(value)


def effective_toml(merged: Merged, layers: list[str]) -> str:
    """The merged configuration as a TOML layer, each key commented with where it came from;
    keys nothing set are comments showing their default."""
    doc = tomlkit.document()
    doc.add(tomlkit.comment(f"merged: defaults < layers {', '.join(layers) or '(none)'} < flags"))
    for key in layer_keys():
        value = merged.values.get(key.name)
        origin = merged.origin.get(key.name, "default")
        if origin == "default" and value in (None, False):
            doc.add(tomlkit.comment(f"{key.name} = …  ({_default_text(key)})"))
            continue
        item = tomlkit.item(_toml_value(key, value))
        item.comment(f"from {origin if origin in ('default', COMMAND_LINE) else repr(origin)}")
        doc.add(key.name, item)
    return tomlkit.dumps(doc)


def new_layer_template(title: str) -> str:
    """What ``config edit`` opens for a layer that does not exist yet: every key, commented
    out, with its option's help."""
    lines = [
        f"# Config layer {title!r}: `harmony run --layers {title}` (after `base`, before flags).",
        "# Uncomment the keys this layer sets; a key left out keeps the value of the layers",
        "# before it, or its default.",
        "",
    ]
    for key in layer_keys():
        about = f"{key.help} [{key.kind.value}]"
        lines.extend(textwrap.wrap(about, 88, initial_indent="# ", subsequent_indent="# "))
        lines.append(f"# {key.name} = {_example(key)}")
        lines.append("")
    return "\n".join(lines)


#: list keys whose items are not bare names: a commented example that would hold if uncommented
_LIST_EXAMPLES = {"max-tasks": '["SDR=2", "WdPost=1"]', "tasks": '["SDR", "WdPost"]'}


def _example(key: Key) -> str:
    if key.kind is KeyKind.BOOL:
        return "true"
    if key.kind is KeyKind.LIST:
        return _LIST_EXAMPLES.get(key.name, '["NAME", "NAME"]')
    if key.choices:
        return tomlkit.item(key.choices[0]).as_string()
    if key.kind in (KeyKind.INT, KeyKind.NUMBER):
        number = _NUMBER_IN_HELP.search(key.help)  # "(default 2)", "(12 until set)"
        return number.group(1) if number else "1"
    return '""'
