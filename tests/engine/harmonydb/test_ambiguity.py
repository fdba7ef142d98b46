"""Which autocommit statements are safe to send twice after a lost reply.

A mistake one way costs a retry (a read raised as AmbiguousCommit); the other way, a write
applied twice. So only plain queries count as reads, and any word that may write makes a write.
"""

from __future__ import annotations

import pytest

from engine.harmonydb.ambiguity import is_read_only


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",
        "  select id, update_time FROM harmony_task WHERE owner_id = $1",
        "SELECT id FROM harmony_task FOR UPDATE SKIP LOCKED",
        "SELECT id FROM t FOR NO KEY UPDATE",
        "WITH x AS (SELECT 1) SELECT * FROM x",
        "(SELECT 1) UNION (SELECT 2)",
        "VALUES (1)",
        "SHOW statement_timeout",
        "SELECT 'DELETE' AS word -- not an UPDATE",
        "SELECT $$INSERT$$",
        'SELECT "update" FROM t',
    ],
)
def test_reads(sql: str) -> None:
    assert is_read_only(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO t VALUES (1)",
        "UPDATE t SET v = 1",
        "DELETE FROM t",
        "WITH c AS (UPDATE t SET v = 1 RETURNING id) SELECT * FROM c",
        "WITH c AS (DELETE FROM t RETURNING id) SELECT count(*) FROM c",
        "SELECT nextval('s')",
        "SELECT pg_notify('c', '')",
        "EXPLAIN ANALYZE DELETE FROM t",
        "CREATE TABLE x (id int)",
        "TRUNCATE t",
        "",
        "/* SELECT */ DELETE FROM t",
    ],
)
def test_writes(sql: str) -> None:
    assert not is_read_only(sql)
