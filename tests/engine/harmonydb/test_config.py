"""Database URLs: validation, host lists, and passwords that never show."""

from __future__ import annotations

import re

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


#: passwords as people type them, unencoded: each character a URL parser splits on
TRICKY_PASSWORDS = ["s3cr/3tpw", "p@ss:w0rd", "pw#frag77", "pw?x=1&y", "a:b@c/d#e?f", "100%sure"]


@pytest.mark.parametrize("password", TRICKY_PASSWORDS)
def test_any_password_parses_and_never_shows(password: str) -> None:
    url = parse_url(f"postgres://bob:{password}@db1:5432,db2/cluster?sslmode=prefer")
    assert url.hosts == ("db1:5432", "db2")
    assert url.database == "cluster"
    assert url.user == "bob"
    for shown in (url.redacted, repr(url), str(url), redact_url(url.dsn)):
        assert password not in shown
        assert "bob" not in shown
    assert url.redacted == "postgres://***@db1:5432,db2/cluster?sslmode=prefer"


@pytest.mark.parametrize("password", TRICKY_PASSWORDS)
def test_a_malformed_url_with_any_password_fails_without_any_of_the_userinfo(
    password: str,
) -> None:
    with pytest.raises(ConfigError, match="bad port") as caught:
        parse_url(f"postgres://bob:{password}@db:notaport/x")
    text = str(caught.value)
    assert "***" in text
    pieces = [p for p in re.split(r"[/@:#?&=%]", password) if len(p) >= 4]
    for piece in [password, "bob", *pieces]:
        assert piece not in text


def test_the_driver_gets_the_userinfo_percent_encoded() -> None:
    url = parse_url("postgres://b%40b:p@ss:w0rd/#?@db/x")
    assert url.dsn == "postgres://b%40b:p%40ss%3Aw0rd%2F%23%3F@db/x"
    assert url.user == "b@b"


def test_an_unclosed_ipv6_bracket_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="malformed database URL") as caught:
        parse_url("postgres://bob:s3cr3t@[::1/db")
    assert "s3cr3t" not in str(caught.value) and "bob" not in str(caught.value)
    with pytest.raises(ConfigError, match="IPv6"):
        parse_url("postgres://h1,[::1/db")


def test_messages_are_scrubbed_of_the_credentials() -> None:
    url = parse_url("postgres://bob:s3cr/3tpw@db/x")
    assert url.scrub('role "bob" does not exist; s3cr/3tpw') == 'role "***" does not exist; ***'
    # a short user name is only taken out where a message quotes it
    assert parse_url("postgres://u:pw12@db/x").scrub('user "u" unknown') == 'user "***" unknown'


def test_a_url_without_userinfo_is_left_as_it_is() -> None:
    url = parse_url("postgresql://postgres:@/harmony?host=/var/lib/harmony/pgdata")
    assert url.dsn == "postgresql://postgres:@/harmony?host=/var/lib/harmony/pgdata"
    plain = parse_url("postgres://db/x")
    assert plain.dsn == "postgres://db/x"
    assert plain.redacted == "postgres://db/x"
