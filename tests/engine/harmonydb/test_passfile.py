"""Reading .pgpass as libpq does (the connection tests in test_connect.py use a real server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.harmonydb import parse_url
from engine.harmonydb.passfile import password_for


@pytest.fixture
def passfile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "pgpass"
    monkeypatch.setenv("PGPASSFILE", str(path))
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.delenv("PGPORT", raising=False)
    return path


def _write(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o600)


def test_escapes_are_undone_and_the_first_matching_line_wins(passfile: Path) -> None:
    _write(
        passfile,
        "db1:5432:x:bob:first\\:pw\\\\\ndb1:5432:x:bob:second\n*:*:*:*:fallback:with:colons\n",
    )
    assert password_for(parse_url("postgres://bob@db1/x")) == "first:pw\\"
    assert password_for(parse_url("postgres://bob@db1:5433/x")) == "fallback:with:colons"


def test_hosts_are_tried_in_order_and_sockets_match_localhost(passfile: Path) -> None:
    _write(passfile, "db2:6000:*:bob:two\nlocalhost:5432:*:bob:sock\n")
    assert password_for(parse_url("postgres://bob@db1,db2:6000/x")) == "two"
    assert password_for(parse_url("postgres://bob@/x?host=/run/postgresql")) == "sock"


def test_a_url_or_environment_password_comes_first(
    passfile: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(passfile, "*:*:*:*:fromfile\n")
    assert password_for(parse_url("postgres://bob:given@db/x")) is None
    assert password_for(parse_url("postgres://bob@db/x?password=given")) is None
    # an empty password (the embedded server's URL) is no password
    assert password_for(parse_url("postgres://bob:@db/x")) == "fromfile"
    monkeypatch.setenv("PGPASSWORD", "env")
    assert password_for(parse_url("postgres://bob@db/x")) is None


def test_a_file_others_may_read_or_no_file_gives_nothing(passfile: Path) -> None:
    assert password_for(parse_url("postgres://bob@db/x")) is None
    passfile.write_text("*:*:*:*:open\n")
    passfile.chmod(0o644)
    assert password_for(parse_url("postgres://bob@db/x")) is None
