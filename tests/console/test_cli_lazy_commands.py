"""``harmony``'s commands are imported only when named (console/commands/__init__.py): the
listing ``harmony --help`` shows comes from ``COMMANDS``, so it must match what each module
registers, and naming one command must build its parser and no other."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import subprocess
import sys

import console.commands
from console.cli import build_parser
from console.commands import COMMANDS, LazySubcommands


def _commands_action(parser: argparse.ArgumentParser) -> LazySubcommands:
    return next(a for a in parser._actions if isinstance(a, LazySubcommands))


def test_the_listing_is_what_each_module_registers() -> None:
    for command in COMMANDS:
        scratch = argparse.ArgumentParser(prog="harmony").add_subparsers()
        command.module().register(scratch)
        registered = {a.dest: a.help for a in scratch._choices_actions}
        assert registered == {command.name: command.help}


def test_every_module_with_a_command_is_listed() -> None:
    """A new command module that registers a top-level command must be in ``COMMANDS`` (those
    that register under one, like ``storage find``, register names no listed command has)."""
    listed = {c.name for c in COMMANDS}
    for info in pkgutil.iter_modules(console.commands.__path__):
        module = importlib.import_module(f"console.commands.{info.name}")
        if not hasattr(module, "register"):
            continue
        sub = argparse.ArgumentParser(prog="harmony").add_subparsers()
        module.register(sub)
        names = {a.dest for a in sub._choices_actions}
        assert names <= listed or not names & listed, info.name
        assert info.name not in names or info.name in listed, info.name


def test_naming_a_command_builds_only_its_parser() -> None:
    parser = build_parser()
    args = parser.parse_args(["--schema", "s1", "task", "list", "--schema", "s2"])
    assert (args.command, args.task_command, args.schema) == ("task", "list", "s2")
    built = _commands_action(parser)
    placeholders = [n for n, p in built.choices.items() if not p._actions]
    assert "task" not in placeholders
    assert set(placeholders) == {c.name for c in COMMANDS} - {"task"}
    # The listing keeps its order and one entry per command.
    assert [a.dest for a in built._choices_actions] == [c.name for c in COMMANDS]


def test_whole_builds_every_command() -> None:
    built = _commands_action(build_parser(whole=True))
    assert all(p._actions for p in built.choices.values())


def test_the_cli_imports_no_command_module_until_one_is_named() -> None:
    """The console's first frame must not pay for every command's imports."""
    program = (
        "import json, sys, console.cli\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('console.commands.'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = json.loads(done.stdout)
    assert not {f"console.commands.{c.name}" for c in COMMANDS} & set(loaded), loaded
