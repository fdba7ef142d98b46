"""Which options the operator actually typed, as opposed to those left at their defaults.

Config layers sit between the defaults and the command line: a layer's ``heartbeat = 5`` must
lose to ``--heartbeat 3`` typed on the command line, and win over ``--heartbeat``'s default.
argparse cannot tell a typed value from a default (and a typed value may equal the default), so
the options that layers may set are added with an action that also records, on the namespace,
that it ran. One attribute per option (``_given:heartbeat``): argparse parses a subcommand into
a namespace of its own and copies it back attribute by attribute, so a shared set would be
replaced by the subcommand's.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["given_action", "given_options"]

_PREFIX = "_given:"
_made: dict[type[argparse.Action], type[argparse.Action]] = {}


def given_action(parser: argparse.ArgumentParser, action: Any) -> type[argparse.Action]:
    """The action class ``add_argument(action=action)`` would use, recording that it ran."""
    base: type[argparse.Action] = parser._registry_get("action", action, action)
    made = _made.get(base)
    if made is None:

        class Given(base):  # type: ignore[valid-type,misc]
            def __call__(self, parser: Any, namespace: Any, values: Any, flag: Any = None) -> None:
                super().__call__(parser, namespace, values, flag)
                setattr(namespace, _PREFIX + self.dest, True)

        Given.__name__ = f"Given{base.__name__}"
        made = _made[base] = Given
    return made


def given_options(args: argparse.Namespace) -> set[str]:
    """The ``dest`` of every recorded option that was given on the command line."""
    return {name[len(_PREFIX) :] for name in vars(args) if name.startswith(_PREFIX)}
