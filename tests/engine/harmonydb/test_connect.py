"""Connecting: clear one-line errors for each way it fails, and multi-host failover.

Uses real TCP servers with password authentication (tests/support/pgcluster.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.harmonydb import (
    DB,
    AuthenticationError,
    ConnectError,
    DatabaseMissingError,
)
from engine.harmonydb.scratch_server import TcpPostgres, free_port


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


#: passwords as people type them, unencoded, each with a character URL parsers split on
TRICKY = {
    "slash_user": "s3cr/3tpw",
    "at_user": "p@ss:w0rd",
    "hash_user": "pw#frag77",
    "query_user": "pw?x=1&y",
    "mixed_user": "a:b@c/d#e?f",
}


@pytest.fixture(scope="module")
def tricky_roles(tcp_pg: TcpPostgres) -> dict[str, str]:
    for role, password in TRICKY.items():
        tcp_pg.psql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    return TRICKY


def _url(tcp_pg: TcpPostgres, user: str, password: str | None) -> str:
    auth = user if password is None else f"{user}:{password}"
    return f"postgres://{auth}@127.0.0.1:{tcp_pg.port}/{tcp_pg.database}"


@pytest.mark.parametrize("role", list(TRICKY))
async def test_a_password_with_url_characters_works_unencoded(
    tcp_pg: TcpPostgres, tricky_roles: dict[str, str], role: str
) -> None:
    db = await DB.open(
        _url(tcp_pg, role, tricky_roles[role]), schema="public", migrate=False, create_schema=False
    )
    try:
        assert await db.query_value("SELECT current_user") == role
        assert tricky_roles[role] not in repr(db.url)
    finally:
        await db.close()


@pytest.mark.parametrize("role", list(TRICKY))
async def test_a_wrong_password_with_url_characters_never_shows(
    tcp_pg: TcpPostgres, tricky_roles: dict[str, str], role: str
) -> None:
    wrong = tricky_roles[role][::-1]
    with pytest.raises(AuthenticationError) as caught:
        await DB.open(_url(tcp_pg, role, wrong), schema="public", migrate=False)
    text = str(caught.value)
    assert wrong not in text and role not in text
    assert text == f"password authentication failed at 127.0.0.1:{tcp_pg.port}"


async def test_an_unknown_role_is_not_named_in_the_error(tcp_pg: TcpPostgres) -> None:
    with pytest.raises(AuthenticationError) as caught:
        await DB.open(_url(tcp_pg, "nosuchrole", "whatever-9"), schema="public", migrate=False)
    assert "nosuchrole" not in str(caught.value)
    assert "whatever-9" not in str(caught.value)


async def test_the_password_may_come_from_pgpassword(
    tcp_pg: TcpPostgres, tricky_roles: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASSWORD", tricky_roles["at_user"])
    db = await DB.open(
        _url(tcp_pg, "at_user", None), schema="public", migrate=False, create_schema=False
    )
    try:
        assert await db.query_value("SELECT current_user") == "at_user"
    finally:
        await db.close()


@pytest.mark.parametrize("role", ["slash_user", "mixed_user", "at_user"])
async def test_the_password_may_come_from_a_passfile_with_its_escapes(
    tcp_pg: TcpPostgres,
    tricky_roles: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    role: str,
) -> None:
    """``\\:`` in .pgpass is a ":" of the password (asyncpg alone would send the backslash)."""
    passfile = tmp_path / "pgpass"
    escaped = tricky_roles[role].replace("\\", "\\\\").replace(":", "\\:")
    passfile.write_text(
        "# comment\n"
        f"127.0.0.1:{tcp_pg.port}:*:someone_else:nope\n"
        f"127.0.0.1:*:{tcp_pg.database}:{role}:{escaped}\n"
    )
    passfile.chmod(0o600)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    db = await DB.open(
        _url(tcp_pg, role, None), schema="public", migrate=False, create_schema=False
    )
    try:
        assert await db.query_value("SELECT current_user") == role
    finally:
        await db.close()


@pytest.mark.filterwarnings("ignore:password file")  # asyncpg's own, as it ignores it too
async def test_a_passfile_others_may_read_is_ignored(
    tcp_pg: TcpPostgres,
    tricky_roles: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"*:*:*:slash_user:{tricky_roles['slash_user']}\n")
    passfile.chmod(0o644)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    with pytest.raises(AuthenticationError) as caught:
        await DB.open(_url(tcp_pg, "slash_user", None), schema="public", migrate=False)
    assert "slash_user" not in str(caught.value)


@pytest.mark.parametrize("role", ["slash_user", "mixed_user"])
def test_the_cli_never_prints_a_password_in_any_form(
    tcp_pg: TcpPostgres, tricky_roles: dict[str, str], role: str
) -> None:
    password = tricky_roles[role]
    for url in (
        _url(tcp_pg, role, password[::-1]),  # refused
        f"postgres://{role}:{password}@127.0.0.1:notaport/x",  # malformed
        f"postgres://{role}:{password}@[::1/x",  # unclosed bracket
        _url(tcp_pg, "nosuchrole", password),  # unknown role
    ):
        result = harmony("--db", url, "db", "status")
        assert result.returncode == 1, result.stderr
        out = result.stdout + result.stderr
        assert "Traceback" not in out
        assert password not in out and password[::-1] not in out
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_the_cli_takes_the_url_from_the_environment_and_the_password_from_pgpassword(
    tcp_pg: TcpPostgres, tricky_roles: dict[str, str]
) -> None:
    """The README's cluster example: nothing secret in argv."""
    env = dict(
        os.environ,
        HARMONY_DB_URL=_url(tcp_pg, "slash_user", None),
        PGPASSWORD=tricky_roles["slash_user"],
    )
    tcp_pg.psql("GRANT CREATE ON DATABASE harmony TO slash_user")
    result = harmony("db", "migrate", env=env)
    assert result.returncode == 0, result.stderr
    assert tricky_roles["slash_user"] not in result.stdout + result.stderr
