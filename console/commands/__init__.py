"""Subcommands of ``harmony``, one module per area; each exposes ``register(subparsers)``.

A module is imported only when its command runs (:class:`LazySubcommands`): ``harmony`` with no
command opens the console, and importing every command module to build the parser cost most of
the console's first frame (0.64 s of 1.1 s measured with ``python -X importtime``). The names
and one-line helps that ``harmony --help`` lists are therefore kept here, and a test holds them
equal to what each module registers.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

__all__ = ["COMMANDS", "Command", "LazySubcommands", "load_every_command"]


@dataclass(frozen=True)
class Command:
    """A top-level command: its name (also its module's, under ``console.commands``) and the
    help line ``harmony --help`` shows before the module is imported."""

    name: str
    help: str

    def module(self) -> ModuleType:
        return importlib.import_module(f"{__name__}.{self.name}")


COMMANDS: tuple[Command, ...] = (
    Command("run", "run a machine of the cluster (the console, or headless with --engine-only)"),
    Command("task", "add, list and restart tasks; task history"),
    Command("machine", "list machines; cordon, drain or restart one"),
    Command("miner", "miners: power, sectors, blocks won, next deadline"),
    Command("storage", "storage paths: attach, detach, list, redeclare, find, move"),
    Command("chain", "the devnet chain: init, status, create-miner, serve (Lotus API), head"),
    Command("sectors", "sectors: pledge CC sectors, list, status, resume a failed one"),
    Command("proving", "WindowPoSt state of a miner: info, deadlines (lotus-miner's layout)"),
    Command("events", "what happened in the cluster, newest first"),
    Command("alerts", "alerts: list, evaluate now, acknowledge, mute"),
    Command("metrics", "Prometheus metrics: list them, print the Grafana dashboard"),
    Command("config", "configuration layers in the database (set, get, list, rm, edit, effective)"),
    Command("db", "database schema: migrate, status"),
    Command("bench", "measure the engine, the proofs or the console"),
    Command(
        "screenshots",
        "regenerate screenshots/*.svg of every console pane from the fixture cluster",
    ),
    Command("service", "files for running harmony under a service manager (systemd)"),
    Command("completion", "print a shell completion script (bash or zsh)"),
)


class LazySubcommands(argparse._SubParsersAction):
    """``harmony``'s subcommands, each parser built from its module when the command is named.

    Until then a command is a placeholder parser carrying its help line. Naming it (parsing
    ``harmony task list``) imports the module and lets it register the real parser in the
    placeholder's place; ``loaded`` then completes the new parsers (the global options every
    command repeats). The listing keeps the placeholders' entries, so its order never changes.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: dict[str, Command] = {}
        self.loaded: Callable[[argparse.ArgumentParser], None] = lambda parser: None

    def add_commands(self, commands: Sequence[Command]) -> None:
        for command in commands:
            self.add_parser(command.name, help=command.help, add_help=False)
            self._pending[command.name] = command

    def load(self, name: str) -> None:
        command = self._pending.pop(name, None)
        if command is None:
            return
        listing = list(self._choices_actions)
        del self._name_parser_map[name]
        command.module().register(self)
        self._choices_actions[:] = listing
        self.loaded(self._name_parser_map[name])

    def load_all(self) -> None:
        for name in list(self._pending):
            self.load(name)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        self.load(values[0])
        super().__call__(parser, namespace, values, option_string)


def load_every_command(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``parser`` with every command's parser built (for walking the whole tree: completion)."""
    for action in parser._actions:
        if isinstance(action, LazySubcommands):
            action.load_all()
    return parser
