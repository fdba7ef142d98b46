"""Database URLs: validation, multi-host lists and redaction.

A URL may list several hosts (``postgres://u:p@h1:5432,h2:5433/db``); asyncpg tries them in order
when it opens a connection, so a pool whose first host died reconnects to the next one. The
password never leaves this module in readable form: everything that prints or raises uses
:func:`redact_url`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

from .errors import ConfigError

_SCHEMES = ("postgres", "postgresql")
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class DatabaseURL:
    """A validated PostgreSQL URL. ``dsn`` is secret; ``redacted`` is safe to show."""

    dsn: str
    hosts: tuple[str, ...]
    user: str
    database: str
    redacted: str

    def __repr__(self) -> str:
        return f"DatabaseURL({self.redacted})"

    __str__ = __repr__


def redact_url(url: str) -> str:
    """Replace the password of a URL (userinfo or ``password=`` parameter) with ``***``.

    Works on malformed input too, because it is what error messages about malformed URLs print.
    """
    text = re.sub(r"(://[^/@:]*:)[^@/]*@", r"\1***@", url)
    return re.sub(r"(?i)(password=)[^&\s]*", r"\1***", text)


def parse_url(url: str) -> DatabaseURL:
    """Validate ``url`` and split out what callers need; raise :class:`ConfigError` if unusable."""
    shown = redact_url(url)
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES:
        raise ConfigError(
            f"malformed database URL {shown!r}: scheme must be postgres:// or postgresql://"
        )
    netloc = parts.netloc
    userinfo, _, hostlist = netloc.rpartition("@")
    user = unquote(userinfo.split(":", 1)[0]) if userinfo else ""
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    hosts: list[str] = []
    for item in hostlist.split(",") if hostlist else []:
        host, port = _split_host_port(item, shown)
        if not host:
            raise ConfigError(f"malformed database URL {shown!r}: empty host in {item!r}")
        hosts.append(f"{host}:{port}" if port else host)
    if "host" in query:
        hosts.extend(h for h in query["host"].split(",") if h)
    if not hosts:
        raise ConfigError(f"malformed database URL {shown!r}: no host given")
    database = unquote(parts.path.lstrip("/")) or query.get("dbname", "") or user
    if "/" in database:
        raise ConfigError(f"malformed database URL {shown!r}: bad database name {database!r}")
    return DatabaseURL(
        dsn=url,
        hosts=tuple(hosts),
        user=user or query.get("user", ""),
        database=database,
        redacted=shown,
    )


def _split_host_port(item: str, shown: str) -> tuple[str, int | None]:
    if item.startswith("["):  # [IPv6]:port
        host, _, rest = item[1:].partition("]")
        port_text = rest.removeprefix(":")
    else:
        host, _, port_text = item.partition(":")
    if not port_text:
        return host, None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(f"malformed database URL {shown!r}: bad port {port_text!r}")
    return host, int(port_text)


def check_schema_name(schema: str) -> str:
    """Schema names are interpolated into DDL (identifiers cannot be parameters): allow only
    lower-case identifiers."""
    if not _SCHEMA_NAME.match(schema):
        raise ConfigError(f"bad schema name {schema!r}: use lower-case letters, digits and _")
    return schema
