"""Database URLs: validation, multi-host lists and redaction.

A URL may list several hosts (``postgres://u:p@h1:5432,h2:5433/db``); asyncpg tries them in order
when it opens a connection, so a pool whose first host died reconnects to the next one.

Credentials never leave this module in readable form. Passwords are typed by people, and
people put ``/``, ``@``, ``:``, ``#`` and ``?`` in them without percent-encoding; a URL parser
then splits the password into host, port, path, query or fragment, and its error ("bad port
's3cr'") prints a piece of it. So the userinfo, everything between ``://`` and the **last**
``@``, is cut out before anything parses the URL: what is shown is ``postgres://***@host/db``
(the user name too: it is half of a credential), and what asyncpg gets has user and password
percent-encoded, so any character works. A URL without a password takes it from
``PGPASSWORD`` (asyncpg reads it) or ``PGPASSFILE`` / ``~/.pgpass`` (:mod:`.passfile`), which
keeps it out of ``argv``, where ``ps`` shows it to every user of the machine. (The price: an
``@`` after the host, in a query parameter, must be written ``%40``.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from .errors import ConfigError

_SCHEMES = ("postgres", "postgresql")
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_PASSWORD_PARAM = re.compile(r"(?i)(password=)[^&#\s]*")


@dataclass(frozen=True)
class DatabaseURL:
    """A validated PostgreSQL URL. ``dsn`` is secret; ``redacted`` is safe to show."""

    dsn: str
    hosts: tuple[str, ...]
    user: str
    database: str
    redacted: str
    #: (host, port or None) in order, Unix socket directories included, for .pgpass lookups
    endpoints: tuple[tuple[str, int | None], ...] = ()
    #: whether the URL carries a password (userinfo or ``password=``); else the environment's
    has_password: bool = False
    #: user and password as given, for :meth:`scrub` only
    _secrets: tuple[str, ...] = field(default=(), repr=False, compare=False)

    def __repr__(self) -> str:
        return f"DatabaseURL({self.redacted})"

    __str__ = __repr__

    def scrub(self, text: str) -> str:
        """``text`` (a driver's or server's message) with this URL's credentials taken out:
        the password wherever it appears, the user name where a message quotes it."""
        for secret in self._secrets:
            if not secret:
                continue
            text = text.replace(f'"{secret}"', '"***"').replace(f"'{secret}'", "'***'")
            if len(secret) >= 4:
                text = text.replace(secret, "***")
        return text


def _split_userinfo(url: str) -> tuple[str, str | None, str]:
    """``(scheme://, userinfo or None, rest)``: the userinfo is everything up to the last
    ``@`` after ``://`` (a URL with no ``://`` is split at its last ``@`` too, to be safe)."""
    head, sep, after = url.partition("://")
    if not sep:
        head, after = "", url
    userinfo, at, rest = after.rpartition("@")
    if not at:
        return head + sep, None, after
    return head + sep, userinfo, rest


def redact_url(url: str) -> str:
    """The URL with its userinfo (user and password) replaced by ``***``, and any
    ``password=`` parameter too.

    Works on malformed input as well, because it is what error messages about malformed URLs
    print: nothing here parses the URL first.
    """
    head, userinfo, rest = _split_userinfo(url)
    shown = f"{head}***@{rest}" if userinfo is not None else f"{head}{rest}"
    return _PASSWORD_PARAM.sub(r"\1***", shown)


def parse_url(url: str) -> DatabaseURL:
    """Validate ``url`` and split out what callers need; raise :class:`ConfigError` if unusable.

    No message ever holds any part of the userinfo, whatever characters it contains.
    """
    shown = redact_url(url)
    head, userinfo, rest = _split_userinfo(url)
    user = password = None
    if userinfo is not None:
        raw_user, colon, raw_password = userinfo.partition(":")
        user = unquote(raw_user)
        password = unquote(raw_password) if colon else None
    try:
        parts = urlsplit(head + rest)
    except ValueError:  # urlsplit's only complaint: "Invalid IPv6 URL"
        raise ConfigError(
            f"malformed database URL {shown!r}: bad IPv6 host (a '[' without its ']'?)"
        ) from None
    if parts.scheme not in _SCHEMES or not head:
        raise ConfigError(
            f"malformed database URL {shown!r}: scheme must be postgres:// or postgresql://"
        )
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    hosts: list[str] = []
    endpoints: list[tuple[str, int | None]] = []
    for item in parts.netloc.split(",") if parts.netloc else []:
        host, port = _split_host_port(item, shown)
        if not host:
            raise ConfigError(f"malformed database URL {shown!r}: empty host in {item!r}")
        hosts.append(f"{host}:{port}" if port else host)
        endpoints.append((host, port))
    if "host" in query:
        query_port = query.get("port", "")
        for h in query["host"].split(","):
            if h:
                hosts.append(h)
                endpoints.append((h, int(query_port) if query_port.isdigit() else None))
    if not hosts:
        raise ConfigError(f"malformed database URL {shown!r}: no host given")
    database = unquote(parts.path.lstrip("/")) or query.get("dbname", "") or (user or "")
    if "/" in database:
        raise ConfigError(f"malformed database URL {shown!r}: bad database name {database!r}")
    dsn = url
    if userinfo is not None:
        # percent-encoded for the driver, which splits at the first "@" and ":" and unquotes
        encoded = quote(user or "", safe="")
        if password is not None:
            encoded += ":" + quote(password, safe="")
        dsn = f"{head}{encoded}@{rest}"
    secrets = tuple(s for s in (user, password, query.get("password")) if s)
    return DatabaseURL(
        dsn=dsn,
        hosts=tuple(hosts),
        user=user or query.get("user", ""),
        database=database,
        redacted=shown,
        endpoints=tuple(endpoints),
        has_password=bool(password or query.get("password")),
        _secrets=secrets,
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
