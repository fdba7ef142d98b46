"""Database URLs: validation, host lists, and passwords that never show."""

from __future__ import annotations

import pytest

from engine.harmonydb import ConfigError, parse_url, redact_url


def test_multi_host_urls_are_parsed_in_order() -> None:
    url = parse_url("postgres://u:p@h1:5432,h2:5433,[::1]:5434/db")
    assert url.hosts == ("h1:5432", "h2:5433", "::1:5434")
    assert (url.user, url.database) == ("u", "db")


def test_unix_socket_urls_are_accepted() -> None:
    url = parse_url("postgresql://postgres:@/harmony?host=/var/lib/harmony/pgdata")
    assert url.hosts == ("/var/lib/harmony/pgdata",)
    assert url.database == "harmony"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("mysql://u:p@h/db", "scheme"),
        ("postgres://u:p@h:99999/db", "bad port"),
        ("postgres://u:p@h:abc/db", "bad port"),
        ("postgres://u:p@/db", "no host"),
        ("postgres://u:p@h1,,h2/db", "empty host"),
        ("not a url", "scheme"),
    ],
)
def test_malformed_urls_fail_with_a_reason_and_no_password(url: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason) as caught:
        parse_url(url)
    assert ":p@" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgres://admin:hunter2@db:5432/x",
        "postgres://admin:hunter2@db1,db2/x",
        "postgres://db/x?password=hunter2&sslmode=require",
        "postgres://admin:hunter2@db:notaport/x",
    ],
)
def test_redaction_removes_the_password(url: str) -> None:
    assert "hunter2" not in redact_url(url)
    assert "***" in redact_url(url)


def test_the_parsed_url_never_shows_its_password() -> None:
    url = parse_url("postgres://admin:hunter2@db/x")
    assert "hunter2" not in repr(url)
    assert "hunter2" not in str(url)
    assert "hunter2" in url.dsn  # the driver still gets it
