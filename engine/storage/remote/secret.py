"""The cluster secret that storage servers require of every request.

One value per cluster, in the database (``harmony_storage_secret``), so every machine that can
reach the database can read sector files from its peers and nobody else can. It is created
once, by the first machine that needs it, from 32 bytes of ``secrets.token_bytes``; racing
creators agree through ``ON CONFLICT DO NOTHING`` and all read back the winner's value.

The secret is never logged or shown: :class:`ClusterSecret` hides it from ``repr`` and
``str``, and it travels only in the ``Authorization`` header, compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.harmonydb import DB

__all__ = ["SECRET_BYTES", "ClusterSecret", "cluster_secret"]

SECRET_BYTES = 32


class ClusterSecret:
    """The secret's bytes, kept out of logs, tracebacks and error messages."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        if len(value) != SECRET_BYTES:
            raise ValueError(f"a cluster secret has {SECRET_BYTES} bytes")
        self._value = bytes(value)

    def __repr__(self) -> str:
        return "ClusterSecret(<hidden>)"

    __str__ = __repr__

    def headers(self) -> dict[str, str]:
        """The request header a client sends."""
        return {"Authorization": f"Bearer {self._value.hex()}"}

    def accepts(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header carries this secret (constant-time compare)."""
        if not authorization:
            return False
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return False
        try:
            given = bytes.fromhex(token.strip())
        except ValueError:
            given = b""
        # compare_digest takes the same time whatever the position of the first difference;
        # a wrong length is compared against the secret itself so it costs the same too.
        same_length = len(given) == SECRET_BYTES
        return hmac.compare_digest(given if same_length else self._value, self._value) and (
            same_length
        )


async def cluster_secret(db: DB) -> ClusterSecret:
    """The cluster's secret, created on first use.

    Raises the database's error when it must be created but the role cannot write (a
    ``--read-only`` session on a cluster that never served: nothing to read remotely then).
    """
    value = await db.query_value("SELECT secret FROM harmony_storage_secret WHERE id = 1")
    if value is None:
        await db.exec(
            "INSERT INTO harmony_storage_secret (id, secret) VALUES (1, $1) "
            "ON CONFLICT (id) DO NOTHING",
            secrets.token_bytes(SECRET_BYTES),
        )
        value = await db.query_value("SELECT secret FROM harmony_storage_secret WHERE id = 1")
    return ClusterSecret(bytes(value))
