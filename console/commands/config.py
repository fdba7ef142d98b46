"""``harmony config``: the cluster's configuration layers (list, get, set, rm, edit, effective).

A layer is a TOML document of machine-option keys stored in the cluster's database; a machine
started with ``harmony run --layers base,seal`` merges them in order over the defaults, and
flags typed on its command line still win (:mod:`.config_keys`). Every layer is checked before
it is stored, so a machine never meets a key or value it cannot use. On a Curio cluster these
commands read Curio's own layers (``harmony_config``) and never write them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from engine.config_layers import (
    LayerChanged,
    LayerError,
    check_title,
    curio_layers,
    delete_layer,
    get_layer,
    list_layers,
    parse_layer,
    put_layer,
)

from .common import CommandError, add_json_flag, open_db, print_json, print_table
from .config_keys import (
    apply_layers,
    effective_toml,
    layer_keys,
    named_layers,
    new_layer_template,
)
from .machine_options import add_machine_options, engine_config

if TYPE_CHECKING:
    from engine.harmonydb import DB

#: Larger than any sensible layer; keeps a mistaken `config set big-file` out of the database.
MAX_LAYER_BYTES = 256 * 1024

__all__ = ["register"]

DESCRIPTION = """\
Configuration layers: TOML documents of machine-option keys kept in the cluster's database,
so a new machine needs only `harmony --db URL run --engine-only --layers base,seal`.

Each option of `harmony run` is a key of the same name (--heartbeat is `heartbeat`,
--machine-timeout is `machine-timeout`; --tasks is `tasks = ["SDR", "TreeD"]`), except
--name, --layers and --engine-only. A machine applies `base` first whenever it exists, then
the layers it names in order (the last one setting a key wins), then the flags typed on its
command line. Every layer is checked before it is stored: an unknown key or a bad value is
refused with an error naming the layer and the key, and nothing is stored.

A machine reads its layers once, when it starts: a changed layer takes effect at its next
start (SIGHUP to `harmony run --engine-only`, or `systemctl reload`, drains it and exits 100
for its supervisor to start it again); a deleted one makes that start fail with an error
naming it (the running machine keeps its configuration). The console's own machine reads
them the same way when it starts.

On a Curio cluster, `config list` and `config get` show Curio's own layers (its
harmony_config table, Curio's keys); harmony never writes them (use `curio config`).
"""

EXAMPLES = """\
examples:
  harmony config set base base.toml         store (or replace) the layer 'base'
  harmony config set seal - < seal.toml     the layer's text from stdin
  harmony config edit seal                  $VISUAL/$EDITOR, checked before it is stored
  harmony config effective --layers seal    what a machine with these layers runs with
"""


def register(sub: argparse._SubParsersAction) -> None:
    config = sub.add_parser(
        "config",
        help="configuration layers in the database (set, get, list, rm, edit, effective)",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)

    listed = commands.add_parser("list", aliases=["ls"], help="the layers and their versions")
    add_json_flag(listed)
    listed.set_defaults(run=list_command)

    get = commands.add_parser("get", aliases=["cat", "show"], help="print a layer's TOML")
    get.add_argument("layer", metavar="LAYER")
    get.set_defaults(run=get_command)

    put = commands.add_parser(
        "set",
        help="store a layer from a file (or - for stdin), checked first",
        description="Store LAYER from FILE (- reads stdin), replacing what it held. The text "
        "is stored as written, comments included, once every key and value passed the checks.",
    )
    put.add_argument("layer", metavar="LAYER")
    put.add_argument("file", metavar="FILE|-")
    put.set_defaults(run=set_command)

    remove = commands.add_parser(
        "rm",
        aliases=["remove", "delete"],
        help="delete a layer",
        description="Delete LAYER. Machines running with it keep their configuration; their "
        "next start with --layers naming it fails with an error naming it.",
    )
    remove.add_argument("layer", metavar="LAYER")
    remove.set_defaults(run=rm_command)

    edit = commands.add_parser(
        "edit",
        help="edit a layer in $VISUAL/$EDITOR (checked before it is stored)",
        description="Open LAYER (or, for a new one, every key commented out) in $VISUAL, "
        "$EDITOR or vi. The result is checked before it is stored; on an error you may edit "
        "again (at a terminal) or nothing is stored. If someone changed the layer meanwhile, "
        "nothing is stored and your text is kept in a file named in the message.",
    )
    edit.add_argument("layer", metavar="LAYER")
    edit.set_defaults(run=edit_command)

    effective = commands.add_parser(
        "effective",
        aliases=["interpret"],
        help="the merged configuration of --layers (and flags), with each value's origin",
        description="Print, as TOML, what `harmony run` with these --layers and flags would run "
        "with: every key with the layer (or default, or command line) it came from.",
    )
    add_machine_options(effective, suppress=True)
    add_json_flag(effective)
    effective.set_defaults(run=effective_command)


def _curio_refusal(args: argparse.Namespace) -> CommandError:
    return CommandError(
        f"schema {args.schema!r} is a Curio cluster: its config layers (harmony_config) hold "
        "Curio's own configuration, which harmony never writes (use `curio config`); nothing "
        "was changed"
    )


async def _open_for_writing(args: argparse.Namespace) -> DB:
    db = await open_db(args, foreign=True)
    if db.foreign:
        await db.close()
        raise _curio_refusal(args)
    return db


async def list_command(args: argparse.Namespace) -> int:
    db = await open_db(args, migrate=False, foreign=True)
    try:
        if db.foreign:
            theirs = await curio_layers(db)
            if args.json:
                print_json([{"title": layer.title, "curio": True} for layer in theirs])
            else:
                sizes = [(layer.title, len(layer.config)) for layer in theirs]
                print_table(["LAYER (Curio's)", "BYTES"], sizes)
            return 0
        layers = await list_layers(db)
    finally:
        await db.close()
    if args.json:
        print_json(
            [{"title": x.title, "version": x.version, "updated_at": x.updated_at} for x in layers]
        )
    elif not layers:
        print("no config layers (`harmony config set NAME FILE` creates one)", file=sys.stderr)
    else:
        print_table(
            ["LAYER", "VERSION", "UPDATED"],
            [(x.title, x.version, _when(x.updated_at)) for x in layers],
        )
    return 0


def _when(at: dt.datetime | None) -> str:
    return at.astimezone().strftime("%Y-%m-%d %H:%M:%S") if at is not None else ""


async def get_command(args: argparse.Namespace) -> int:
    db = await open_db(args, migrate=False, foreign=True)
    try:
        if db.foreign:
            found = await curio_layers(db, args.layer)
            text = found[0].config if found else None
        else:
            layer = await get_layer(db, args.layer)
            text = layer.config if layer else None
    finally:
        await db.close()
    if text is None:
        raise CommandError(f"no config layer {args.layer!r} (`harmony config list` shows them)")
    sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
    return 0


def _read_source(source: str) -> str:
    try:
        if source == "-":
            data = sys.stdin.buffer.read(MAX_LAYER_BYTES + 1)
        else:
            with open(source, "rb") as file:
                data = file.read(MAX_LAYER_BYTES + 1)
    except FileNotFoundError:
        raise CommandError(f"no such file: {source}") from None
    if len(data) > MAX_LAYER_BYTES:
        raise CommandError(f"{source}: larger than {MAX_LAYER_BYTES // 1024} KiB; not a layer")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CommandError(f"{source}: not UTF-8 text; TOML is UTF-8") from None


async def set_command(args: argparse.Namespace) -> int:
    title = check_title(args.layer)
    text = _read_source(args.file)
    parse_layer(title, text, layer_keys())  # refuses before anything connects
    db = await _open_for_writing(args)
    try:
        version = await put_layer(db, title, text)
    finally:
        await db.close()
    print(f"layer {title!r} stored (version {version})")
    return 0


async def rm_command(args: argparse.Namespace) -> int:
    db = await _open_for_writing(args)
    try:
        deleted = await delete_layer(db, args.layer)
    finally:
        await db.close()
    if not deleted:
        raise CommandError(f"no config layer {args.layer!r} (`harmony config list` shows them)")
    print(
        f"layer {args.layer!r} deleted; machines running with it keep their configuration, and "
        "a start naming it fails until it is set again"
    )
    return 0


def _editor() -> list[str]:
    for variable in ("VISUAL", "EDITOR"):
        value = os.environ.get(variable, "").strip()
        if value:
            return shlex.split(value)
    for fallback in ("vi", "nano"):
        if shutil.which(fallback):
            return [fallback]
    raise CommandError("no editor: set $EDITOR (or use `harmony config set LAYER FILE`)")


async def edit_command(args: argparse.Namespace) -> int:
    import asyncio

    title = check_title(args.layer)
    db = await _open_for_writing(args)
    try:
        editor = _editor()
        layer = await get_layer(db, title)
        start = layer.config if layer is not None else new_layer_template(title)
        fd, name = tempfile.mkstemp(prefix=f"harmony-layer-{title}-", suffix=".toml")
        path = Path(name)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(start)
        keep = False
        try:
            while True:
                done = await asyncio.to_thread(subprocess.run, [*editor, str(path)])
                if done.returncode != 0:
                    raise CommandError(
                        f"the editor ({editor[0]}) exited with {done.returncode}; nothing was "
                        "stored"
                    )
                text = _read_text(path)
                if text == start:
                    print(f"layer {title!r} unchanged; nothing stored", file=sys.stderr)
                    return 0
                try:
                    parse_layer(title, text, layer_keys())
                    break
                except LayerError as exc:
                    print(f"harmony: {exc}", file=sys.stderr)
                    if not _ask_again():
                        keep = True
                        raise CommandError(
                            f"nothing was stored; your text is kept in {path}"
                        ) from None
            try:
                version = await put_layer(
                    db,
                    title,
                    text,
                    expected_version=layer.version if layer is not None else None,
                    create_only=layer is None,
                )
            except LayerChanged as exc:
                keep = True
                raise CommandError(
                    f"{exc}; nothing was stored; your text is kept in {path} (compare it with "
                    f"`harmony config get {title}`, then `harmony config set {title} {path}`)"
                ) from None
        finally:
            if not keep:
                _remove(path)
    finally:
        await db.close()
    print(f"layer {title!r} stored (version {version})")
    return 0


def _read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def _ask_again() -> bool:
    """At a terminal, whether to reopen the editor; elsewhere, no."""
    if not sys.stdin.isatty():
        return False
    try:
        answer = input("edit again? [Y/n] ").strip().lower()
    except EOFError:
        return False
    return answer in ("", "y", "yes")


async def effective_command(args: argparse.Namespace) -> int:
    engine_config(args)  # bad flags fail before anything connects
    db = await open_db(args, migrate=False, foreign=True)
    try:
        if db.foreign:
            raise CommandError(
                f"schema {args.schema!r} is a Curio cluster: its layers hold Curio's keys, "
                "which harmony does not interpret (`curio config interpret` does)"
            )
        merged = await apply_layers(db, args)
    finally:
        await db.close()
    engine_config(args)  # the merged values pass the same cross-checks a machine applies
    if args.json:
        print_json(
            {
                name: {"value": merged.values[name], "from": merged.origin[name]}
                for name in merged.values
            }
        )
    else:
        sys.stdout.write(effective_toml(merged, named_layers(args)))
    return 0
