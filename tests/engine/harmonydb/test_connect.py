"""Connecting: clear one-line errors for each way it fails, and multi-host failover.

Uses real TCP servers with password authentication (tests/support/pgcluster.py).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from engine.harmonydb import (
    DB,
    AuthenticationError,
    ConnectError,
    DatabaseMissingError,
)
from support.pgcluster import TcpPostgres, free_port


@pytest.fixture(scope="module")
def tcp_pg() -> Iterator[TcpPostgres]:
    server = TcpPostgres()
    try:
        yield server
    finally:
        server.destroy()


async def test_password_authentication_works_over_tcp(tcp_pg: TcpPostgres) -> None:
    db = await DB.open(tcp_pg.url, schema="itest_tcp_ok")
    try:
        assert await db.query_value("SELECT current_user") == tcp_pg.user
    finally:
        await db.delete_all()


async def test_wrong_password_is_an_authentication_error_without_the_password(
    tcp_pg: TcpPostgres,
) -> None:
    with pytest.raises(AuthenticationError) as caught:
        await DB.open(tcp_pg.url_with(password="wrong-pass-123"))
    assert caught.value.sqlstate == "28P01"
    assert "wrong-pass-123" not in str(caught.value)
    assert tcp_pg.password not in str(caught.value)


async def test_missing_database_is_named(tcp_pg: TcpPostgres) -> None:
    with pytest.raises(DatabaseMissingError, match="'nope' does not exist"):
        await DB.open(tcp_pg.url_with(database="nope"))


async def test_unreachable_host_is_a_connect_error() -> None:
    port = free_port()
    with pytest.raises(ConnectError, match=f"127.0.0.1:{port}.*refused"):
        await DB.open(f"postgres://u:p@127.0.0.1:{port}/db")


async def test_first_answering_host_is_used_and_the_next_takes_over_when_it_dies() -> None:
    first, second = TcpPostgres(), TcpPostgres()
    try:
        dead = free_port()
        url = (
            f"postgresql://{first.user}:{first.password}@127.0.0.1:{dead},"
            f"127.0.0.1:{first.port},127.0.0.1:{second.port}/{first.database}"
        )
        for server in (first, second):
            server.psql(
                f"CREATE TABLE whoami (port INT); INSERT INTO whoami VALUES ({server.port})",
                database=server.database,
            )
        db = await DB.open(url, schema="public", migrate=False, max_size=2)
        try:
            assert await db.query_value("SELECT port FROM whoami") == first.port
            first.stop("immediate")
            first.wait_down()
            assert await db.query_value("SELECT port FROM whoami") == second.port
        finally:
            await db.close()
    finally:
        first.destroy()
        second.destroy()


def harmony(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.mark.parametrize(
    ("make_url", "message"),
    [
        (lambda pg: pg.url_with(password="badpass-777"), "password authentication failed"),
        (lambda pg: pg.url_with(database="absent"), "database 'absent' does not exist"),
        (lambda pg: f"postgres://u:badpass-777@127.0.0.1:{free_port()}/x", "cannot reach"),
        (lambda pg: "postgres://u:badpass-777@host:port/x", "malformed database URL"),
    ],
)
def test_cli_prints_one_line_errors_and_exits_non_zero(
    tcp_pg: TcpPostgres, make_url, message: str
) -> None:
    result = harmony("--db", make_url(tcp_pg), "db", "status")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("harmony: error: ")
    assert message in lines[0]
    assert "badpass-777" not in result.stderr + result.stdout
