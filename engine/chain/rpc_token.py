"""The bearer token of ``harmony chain serve``: from the environment, or a 0600 file.

Lotus hands out JWTs with permissions; the devnet server has one opaque random token, enough
for a read-only API on a loopback address. It is kept in ``<data dir>/chain-api-token``,
created 0600 on first use (readable by the operator only, like ``~/.lotus/token``), or given
in ``HARMONY_CHAIN_API_TOKEN``. It is never printed: the server prints a command that reads the
file (``export FULLNODE_API_INFO="$(cat FILE):/ip4/…"``), so it stays off argv and out of logs.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from pathlib import Path

from .errors import ChainError

__all__ = [
    "TOKEN_ENV",
    "TOKEN_FILE",
    "TokenError",
    "load_or_create_token",
    "token_from_env",
]

TOKEN_ENV = "HARMONY_CHAIN_API_TOKEN"
TOKEN_FILE = "chain-api-token"
#: At least this many characters: a token is the only lock on the API.
MIN_TOKEN_LENGTH = 16
_TOKEN = re.compile(r"[!-~]+")  # printable ASCII without spaces or ':' (checked separately)


class TokenError(ChainError):
    """The token file or variable cannot be used; the message says how to fix it."""


def _check(token: str, where: str) -> str:
    if len(token) < MIN_TOKEN_LENGTH or not _TOKEN.fullmatch(token) or ":" in token:
        raise TokenError(
            f"{where}: the token must be at least {MIN_TOKEN_LENGTH} printable ASCII "
            "characters without spaces or ':' (it is not shown)"
        )
    return token


def token_from_env(environ: dict[str, str] | os._Environ[str] | None = None) -> str | None:
    """The token in ``HARMONY_CHAIN_API_TOKEN``, if set."""
    value = (os.environ if environ is None else environ).get(TOKEN_ENV)
    return None if not value else _check(value.strip(), TOKEN_ENV)


def load_or_create_token(path: Path) -> tuple[str, bool]:
    """The token stored at ``path``, created (random, mode 0600) if there is none; returns
    ``(token, created)``.

    Raises:
        TokenError: the file is readable or writable by group or others (someone else could
            read the token), or does not hold a usable token.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as out:
            out.write(token + "\n")
        return token, True
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise TokenError(
            f"{path} is accessible by group or others (mode {mode:04o}): run `chmod 600 {path}` "
            "(or delete it for a new token)"
        )
    return _check(path.read_text().strip(), str(path)), False
