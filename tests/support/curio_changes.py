"""What a command or an operator's action changed on a Curio-shaped test schema: every
``harmony_machines`` row before and after, and ``pg_dump`` of the whole schema.

An UPDATE put back by the owner leaves the same rows but not the same heap order, and
``pg_dump`` writes rows in heap order: :func:`canonical` (``rows_as_sets``) compares each
table's rows as a set."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from .curio_read import owner
from .curio_schema import CurioCluster
from .schema_dump import SchemaDump, dump_schema, pg_dump_for, server_major

__all__ = ["Rows", "canonical", "changes", "curio_dumper", "machine_rows", "schema_dumper"]

#: harmony_machines rows by id: every column's value
Rows = dict[int, dict[str, Any]]


async def machine_rows(cluster: CurioCluster) -> Rows:
    """Every column of every harmony_machines row, by id, read by the owner."""
    async with owner(cluster) as conn:
        rows = await conn.fetch("SELECT * FROM harmony_machines ORDER BY id")
    return {row["id"]: dict(row) for row in rows}


def changes(before: Rows, after: Rows) -> dict[int, dict[str, tuple[Any, Any]]]:
    """Per row id, the columns whose values differ: (before, after). No row came or went."""
    assert before.keys() == after.keys()
    found: dict[int, dict[str, tuple[Any, Any]]] = {}
    for machine_id, old in before.items():
        new = after[machine_id]
        differing = {c: (old[c], new[c]) for c in old if old[c] != new[c]}
        if differing:
            found[machine_id] = differing
    return found


def canonical(dump: SchemaDump) -> SchemaDump:
    """The dump with each table's COPY rows sorted: byte-equal exactly when every table holds
    the same rows, whatever their order in the heap (the structure is kept as written)."""
    out: list[str] = []
    block: list[str] | None = None
    for line in dump.data.splitlines(keepends=True):
        if block is not None:
            if line.rstrip("\n") == "\\.":
                out.extend(sorted(block))
                out.append(line)
                block = None
            else:
                block.append(line)
            continue
        out.append(line)
        if line.startswith("COPY ") and line.rstrip().endswith("FROM stdin;"):
            block = []
    assert block is None, "an unterminated COPY block"
    return SchemaDump(structure=dump.structure, data="".join(out))


async def schema_dumper(url: str) -> Callable[[str], Awaitable[SchemaDump]]:
    """``await dump(schema)``: a schema of the server at ``url`` as ``pg_dump`` writes it; the
    test is skipped where no ``pg_dump`` as new as the server is installed."""
    pg_dump = pg_dump_for(await server_major(url))
    if pg_dump is None:
        pytest.skip("no pg_dump as new as the server is installed")

    async def dump(schema: str) -> SchemaDump:
        return await dump_schema(url, schema, pg_dump)

    return dump


async def curio_dumper(
    cluster: CurioCluster, *, rows_as_sets: bool = False
) -> Callable[[], Awaitable[SchemaDump]]:
    """``await dump()``: the Curio schema as :func:`schema_dumper` dumps it, its rows compared
    as sets (:func:`canonical`) where ``rows_as_sets``."""
    dump = await schema_dumper(cluster.url)

    async def take() -> SchemaDump:
        taken = await dump(cluster.schema)
        return canonical(taken) if rows_as_sets else taken

    return take
