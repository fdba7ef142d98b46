"""The password from ``~/.pgpass`` (or ``PGPASSFILE``), read as libpq reads it.

asyncpg reads the file itself when the URL has no password, but keeps the file's escapes: a
line ``db:5432:*:bob:p\\:w0rd`` gives it the password ``p\\:w0rd``, and the server refuses it.
A password with ``:`` or ``\\`` in it is exactly what people are told to move out of the URL
and into this file, so HarmonyDB looks the password up itself, with libpq's rules: fields split
at unescaped ``:``, ``\\`` escapes the next character, ``*`` matches anything, a Unix-socket host
matches ``localhost``, the first matching line wins, and a file that group or others may read
is ignored.
"""

from __future__ import annotations

import getpass
import os
import stat
from pathlib import Path

from .config import DatabaseURL

DEFAULT_PORT = 5432


def passfile_path() -> Path:
    return Path(os.environ.get("PGPASSFILE") or Path.home() / ".pgpass")


def _fields(line: str) -> list[str]:
    """A line's fields: split at unescaped ``:``, escapes removed."""
    fields, current, escaped = [], [], False
    for char in line:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ":":
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
    fields.append("".join(current))
    return fields


def _entries(path: Path) -> list[list[str]]:
    try:
        if not path.is_file() or path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            return []
        text = path.read_text()
    except OSError:
        return []
    entries = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = _fields(line.rstrip("\r\n"))
        if len(fields) >= 5:
            entries.append([*fields[:4], ":".join(fields[4:])])
    return entries


def password_for(url: DatabaseURL) -> str | None:
    """The password the passfile holds for ``url``; None when the URL or ``PGPASSWORD``
    already gives one, or no line matches."""
    if url.has_password or os.environ.get("PGPASSWORD"):
        return None
    entries = _entries(passfile_path())
    if not entries:
        return None
    user = url.user or os.environ.get("PGUSER") or getpass.getuser()
    database = url.database or os.environ.get("PGDATABASE") or user
    default_port = os.environ.get("PGPORT") or str(DEFAULT_PORT)
    for host, port in url.endpoints:
        host = "localhost" if host.startswith("/") else host
        port_text = str(port) if port is not None else default_port
        for e_host, e_port, e_database, e_user, e_password in entries:
            if (
                e_host in ("*", host)
                and e_port in ("*", port_text)
                and e_database in ("*", database)
                and e_user in ("*", user)
            ):
                return e_password
    return None
