"""Regenerate ``screenshots/curio-*.svg``: the console's views of a Curio cluster.

``harmony screenshots`` draws our own fixture cluster; a Curio one has to be written the way
Curio writes it, which only the test suite does (:mod:`support.curio_schema`, harmony never
writes a Curio schema). So this seeds a scratch ``itest_curio_`` schema as of the fixture's
instant, draws :data:`console.screenshots.CURIO_SHOTS` with no Lotus node (the views
``tests/console/test_curio_console.py`` pins), and drops the schema::

    cd tests && ../.venv/bin/python -m support.curio_screenshots [--db URL] [--out ../screenshots]

Without ``--db`` it starts a throwaway embedded server in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import tempfile
from pathlib import Path

import asyncpg

from console.fixture import FIXED_NOW
from console.screenshots import write_curio_screenshots
from engine.harmonydb import parse_url, start_embedded

from .curio_schema import create_curio_schema, seed_curio, shift_to


async def draw(url: str, out: Path, size: tuple[int, int]) -> list[Path]:
    schema = f"itest_curio_{secrets.token_hex(5)}"
    conn = await asyncpg.connect(parse_url(url).dsn)
    try:
        async with conn.transaction():
            await create_curio_schema(conn, schema)
            await seed_curio(conn)
            await shift_to(conn, schema, FIXED_NOW)
        return await write_curio_screenshots(url, schema, out, size)
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="a PostgreSQL URL (default: a throwaway embedded server)")
    parser.add_argument("--out", type=Path, default=Path("../screenshots"))
    parser.add_argument("--size", default="120x34", help="WIDTHxHEIGHT (default 120x34)")
    args = parser.parse_args()
    width, height = (int(part) for part in args.size.split("x"))
    os.environ.pop("FULLNODE_API_INFO", None)
    root = None
    url = args.db
    server = None
    if url is None:
        root = Path(tempfile.mkdtemp(prefix="harmony-shots-"))
        root.chmod(0o755)
        server = start_embedded(root)
        url = server.uri
    try:
        for path in asyncio.run(draw(url, args.out, (width, height))):
            print(path)
    finally:
        if server is not None:
            server.release()
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
