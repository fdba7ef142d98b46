"""``harmony screenshots [--out DIR]``: regenerate the SVG of every console pane.

The panes are drawn from the fixed fixture cluster (:mod:`console.fixture`), seeded into a
scratch ``itest_`` schema that is dropped afterwards, with the clock frozen at the fixture's
instant: the same state the snapshot tests render, so the files only change when the console
does.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from .common import CommandError


def register(sub: argparse._SubParsersAction) -> None:
    shots = sub.add_parser(
        "screenshots",
        help="regenerate screenshots/*.svg of every console pane from the fixture cluster",
        description="Seed the fixed fixture cluster into a scratch schema on the configured "
        "database (default: the embedded server), draw every console pane and dialog headless "
        "with the clock frozen, and write one SVG per view. The scratch schema is dropped.",
    )
    shots.add_argument(
        "--out",
        type=Path,
        default=Path("screenshots"),
        metavar="DIR",
        help="output directory (default: ./screenshots)",
    )
    shots.add_argument(
        "--size", default="120x34", metavar="WxH", help="terminal size (default: 120x34)"
    )
    shots.set_defaults(run=run)


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise CommandError(f"bad --size {text!r}: expected WIDTHxHEIGHT, e.g. 120x34") from None
    if width < 80 or height < 24:
        raise CommandError("the console needs at least 80x24")
    return width, height


async def run(args: argparse.Namespace) -> int:
    size = _size(args.size)
    url = args.db
    if url is None:
        from engine.harmonydb import start_embedded

        url = (await asyncio.to_thread(start_embedded, args.data_dir)).uri
    from console.screenshots import write_screenshots

    for path in await write_screenshots(url, args.out, size):
        print(path)
    return 0
