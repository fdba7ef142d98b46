"""Errors of the Lotus client; each says what failed and what to do, and none holds a token.

The API token is a bearer credential (``admin`` on most Curio setups): it must not reach a log
line, a traceback or a bug report. Messages are built from what this package validated (a URL
it composed, a method name, a status code), never from the raw endpoint text, and every error
raised on behalf of an endpoint passes through :func:`redact` with that endpoint's token.
"""

from __future__ import annotations

__all__ = [
    "ApiInfoError",
    "LotusDecodeError",
    "LotusError",
    "LotusHTTPError",
    "LotusNotConfigured",
    "LotusRPCError",
    "LotusTimeout",
    "LotusUnauthorized",
    "LotusUnreachable",
    "redact",
]

REDACTED = "<token redacted>"


def redact(text: str, token: str | None) -> str:
    """``text`` with every occurrence of ``token`` replaced (a no-op without a token)."""
    if token:
        text = text.replace(token, REDACTED)
    return text


class LotusError(Exception):
    """Base class of the Lotus client's errors."""


class ApiInfoError(LotusError, ValueError):
    """An endpoint (``TOKEN:/ip4/HOST/tcp/PORT/http``, a URL) that cannot be used."""


class LotusNotConfigured(LotusError):
    """No endpoint given: no ``--lotus-api``, no ``FULLNODE_API_INFO``, no config layer."""


class LotusUnreachable(LotusError):
    """The endpoint could not be reached (refused, unknown host, connection dropped)."""


class LotusTimeout(LotusUnreachable):
    """The endpoint accepted the request but did not answer within the bound."""


class LotusUnauthorized(LotusError):
    """HTTP 401/403: the token is missing, wrong, or lacks the permission."""


class LotusHTTPError(LotusError):
    """An HTTP status that is neither a JSON-RPC answer nor an authorization refusal."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class LotusRPCError(LotusError):
    """The node answered with a JSON-RPC error object (``code``, ``message``).

    Codes as go-jsonrpc uses them: -32700 parse error, -32600 invalid request, -32601 method
    not found, -32602 invalid params; 1 for an error returned by the method itself (an unknown
    actor, a tipset not found).
    """

    def __init__(self, method: str, code: int, message: str) -> None:
        super().__init__(f"{method}: RPC error {code}: {message}")
        self.method = method
        self.code = code
        self.rpc_message = message


class LotusDecodeError(LotusError, ValueError):
    """An answer that is not the shape Lotus documents for the method."""
