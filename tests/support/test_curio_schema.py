"""The Curio fixture (:mod:`support.curio_schema`) against Curio's real migrations.

When a Curio checkout is at hand (``CURIO_SQL_DIR``: its ``harmony/harmonydb/sql`` directory;
or ``CURIO_GIT_DIR``: a clone, bare or not, read at HEAD; by default the mirror a development
machine may hold), its migration files are applied the way Curio applies them to a scratch
schema, and every table of the fixture is compared with the real one: columns (name, type,
NOT NULL, default, in order), constraints and indexes. Without a checkout (CI) it skips, saying
how to run it.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from engine.harmonydb import DB, ClusterKind, ForeignCluster, classify, parse_url
from support.curio_schema import CURIO_MIGRATIONS, CURIO_TABLES, CurioCluster

#: where a development machine keeps a mirror of filecoin-project/curio
DEFAULT_MIRROR = Path("/work/.mirror/filecoin-project+curio/repo")
SQL_PATH = "harmony/harmonydb/sql"


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str


def _from_directory(directory: Path) -> list[Migration]:
    return [Migration(p.name, p.read_text()) for p in sorted(directory.glob("*.sql"))]


def _from_git(git_dir: Path) -> list[Migration]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", f"--git-dir={git_dir}", *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout

    names = git("ls-tree", "--name-only", "HEAD", f"{SQL_PATH}/").split()
    return [
        Migration(Path(name).name, git("show", f"HEAD:{name}"))
        for name in sorted(names)
        if name.endswith(".sql")
    ]


def real_migrations() -> list[Migration] | None:
    """Curio's migration files in name order, or None when no checkout is at hand."""
    directory = os.environ.get("CURIO_SQL_DIR")
    if directory:
        return _from_directory(Path(directory))
    git_dir = Path(os.environ.get("CURIO_GIT_DIR") or DEFAULT_MIRROR)
    if (git_dir / ".git").is_dir():
        git_dir = git_dir / ".git"
    if not (git_dir / "HEAD").is_file():
        return None
    try:
        return _from_git(git_dir)
    except (OSError, subprocess.SubprocessError):
        return None


def curio_statements(text: str) -> str:
    """A file as harmonyquery's ``applySqlFile`` sends it: lines that are empty or start with
    ``--`` or ``#`` dropped, statements split at a line ending in ``;`` outside ``$$`` blocks,
    each ending in ``;``, all joined into one multi-statement string."""
    statements: list[str] = []
    current: list[str] = []
    in_function = False
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped or stripped.startswith(("--", "#")):
            continue
        if "$$" in stripped:
            in_function = not in_function
        current.append(line + "\n")
        if (not in_function and stripped.endswith(";")) or ("$$" in stripped and not in_function):
            statements.append("".join(current))
            current = []
    if current:
        statements.append("".join(current))
    return "".join(s if s.strip().endswith(";") else s + ";" for s in statements if s.strip())


async def apply_like_curio(
    conn: asyncpg.Connection, migrations: list[Migration]
) -> list[tuple[str, str]]:
    """Curio's ``upgrade()`` on the connection's search_path: ``base`` first, then each file
    whose date prefix has not landed, as one statement string, then its entry. A file that
    fails is skipped (recorded with its error) instead of stopping the run as Curio would:
    the files that need YugabyteDB, or depend on one that failed, are reported, not fatal."""
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS base (id SERIAL PRIMARY KEY, entry CHAR(12), "
        "applied TIMESTAMP DEFAULT current_timestamp)"
    )
    landed = {row["entry"][:8] for row in await conn.fetch("SELECT entry FROM base")}
    skipped: list[tuple[str, str]] = []
    for migration in migrations:
        if migration.name[:8] in landed:
            continue
        sql = curio_statements(migration.sql)
        try:
            if sql:
                await conn.execute(sql)
        except asyncpg.PostgresError as exc:
            skipped.append((migration.name, f"{exc.sqlstate}: {exc}"))
            continue
        await conn.execute("INSERT INTO base (entry) VALUES ($1)", migration.name[:8])
    return skipped


_COLUMNS = """
SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS "default"
FROM pg_attribute a
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = to_regclass(format('%I.%I', $1::text, $2::text))
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""
_CONSTRAINTS = """
SELECT conname AS name, pg_get_constraintdef(oid) AS definition FROM pg_constraint
WHERE conrelid = to_regclass(format('%I.%I', $1::text, $2::text)) ORDER BY conname
"""
_INDEXES = """
SELECT indexname AS name, indexdef AS definition FROM pg_indexes
WHERE schemaname = $1 AND tablename = $2 ORDER BY indexname
"""
_FUNCTION = """
SELECT pg_get_function_identity_arguments(p.oid) AS arguments,
       pg_get_function_result(p.oid) AS result
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = $1 AND p.proname = 'append_sector_pipeline_events'
"""


async def shape(conn: asyncpg.Connection, schema: str) -> dict[str, Any]:
    """Every fixture table's columns, constraints and indexes, with the schema's name taken
    out of the definitions (sequence defaults, index definitions name it)."""

    def plain(value: object) -> object:
        return value.replace(f"{schema}.", "") if isinstance(value, str) else value

    async def rows(sql: str, *args: str) -> list[tuple[object, ...]]:
        return [tuple(plain(v) for v in row.values()) for row in await conn.fetch(sql, *args)]

    found: dict[str, Any] = {}
    for table in CURIO_TABLES:
        found[table] = {
            "columns": await rows(_COLUMNS, schema, table),
            "constraints": await rows(_CONSTRAINTS, schema, table),
            "indexes": await rows(_INDEXES, schema, table),
        }
    found["append_sector_pipeline_events()"] = await rows(_FUNCTION, schema)
    return found


@pytest.fixture(scope="module")
def migrations() -> Iterator[list[Migration]]:
    found = real_migrations()
    if not found:
        pytest.skip(
            "no Curio checkout: set CURIO_SQL_DIR to the harmony/harmonydb/sql directory of a "
            "filecoin-project/curio checkout (or CURIO_GIT_DIR to a clone) to compare the "
            "fixture with Curio's real migrations"
        )
    yield found


def _diff(ours: dict[str, Any], real: dict[str, Any]) -> list[str]:
    """One line per table and aspect that differ: the rows only one side has."""
    lines = []
    for table in sorted(set(ours) | set(real)):
        mine, theirs = ours.get(table), real.get(table)
        if mine == theirs:
            continue
        if not isinstance(mine, dict) or not isinstance(theirs, dict):
            lines.append(f"{table}: fixture {mine}, Curio {theirs}")
            continue
        for aspect, rows in mine.items():
            other = theirs.get(aspect, [])
            if rows == other:
                continue
            only_mine = [row for row in rows if row not in other]
            only_theirs = [row for row in other if row not in rows]
            lines.append(
                f"{table} {aspect}: only in the fixture {only_mine}, only in Curio {only_theirs}"
                if only_mine or only_theirs
                else f"{table} {aspect}: the same, in another order"
            )
    return lines


async def test_the_fixture_has_the_shape_of_curios_real_tables(
    migrations: list[Migration], curio_db: CurioCluster, pg_url: str
) -> None:
    real_schema = f"itest_curioref_{secrets.token_hex(5)}"
    conn = await asyncpg.connect(parse_url(pg_url).dsn)
    try:
        await conn.execute(f'CREATE SCHEMA "{real_schema}"')
        try:
            await conn.execute(f'SET search_path = "{real_schema}"')
            skipped = await apply_like_curio(conn, migrations)
            await conn.execute("RESET search_path")
            real = await shape(conn, real_schema)
            ours = await shape(conn, curio_db.schema)
            kind = await classify(conn, real_schema)
            entries = await conn.fetchval(f'SELECT count(*) FROM "{real_schema}".base')
            with pytest.raises(ForeignCluster):
                await DB.open(pg_url, schema=real_schema)
            leftover = await conn.fetchval(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = $1 AND c.relname LIKE 'harmony_schema_%'",
                real_schema,
            )
        finally:
            await conn.execute(f'DROP SCHEMA "{real_schema}" CASCADE')
    finally:
        await conn.close()
    print(
        f"applied {len(migrations) - len(skipped)} of {len(migrations)} Curio migrations; "
        f"skipped {len(skipped)}: {skipped}"
    )
    names = [m.name for m in migrations]
    unknown = sorted(set(CURIO_MIGRATIONS) - set(names))
    assert not unknown, f"the fixture lists migrations this checkout does not have: {unknown}"
    newer = [n for n in names if n not in CURIO_MIGRATIONS]
    print(f"migrations newer than the fixture: {newer}")
    assert kind is ClusterKind.CURIO
    assert entries == len(migrations) - len(skipped)
    assert leftover == 0  # DB.open refused before creating our ledger
    differences = _diff(ours, real)
    assert not differences, (
        "the fixture differs from Curio's real tables"
        + (f" (migrations skipped: {[n for n, _ in skipped]})" if skipped else "")
        + ":\n"
        + "\n".join(differences)
    )


def test_statements_are_split_as_curio_splits_them() -> None:
    text = (
        "-- a comment\nCREATE TABLE a (x INT);\n# hash comment\n"
        "CREATE FUNCTION f() RETURNS VOID AS $$\nBEGIN\n  PERFORM 1;\nEND;\n$$ LANGUAGE plpgsql;\n"
        "ALTER TABLE a ADD COLUMN y INT"
    )
    sql = curio_statements(text)
    assert "comment" not in sql
    assert sql.endswith("ADD COLUMN y INT\n;")
    assert re.search(r"\$\$\nBEGIN\n  PERFORM 1;\nEND;\n\$\$ LANGUAGE plpgsql;", sql)
