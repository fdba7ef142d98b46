"""JSON-RPC 2.0 as Lotus speaks it over HTTP (go-jsonrpc), shared by client and server.

``POST /rpc/v1`` with ``{"jsonrpc": "2.0", "method": "Filecoin.ChainHead", "params": [],
"id": 1}``; the answer carries ``result`` or ``error`` (``{"code", "message"}``), never both.
go-jsonrpc (``server.go`` ``rpcError``, ``handler.go``) answers a protocol error (parse error,
unknown method, wrong parameters) with HTTP 500 (400 for an invalid request) and an error
object, and a method's own error with HTTP 200 and code 1. A refused token is HTTP 401 with no
body (``auth/handler.go``).
"""

from __future__ import annotations

__all__ = [
    "API_PATH",
    "APP_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "METHOD_PREFIX",
    "PARSE_ERROR",
    "http_status_for",
]

API_PATH = "/rpc/v1"
METHOD_PREFIX = "Filecoin."

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
#: A method's own error (go-jsonrpc's default code).
APP_ERROR = 1


def http_status_for(code: int) -> int:
    """The HTTP status go-jsonrpc sends with an error of ``code``."""
    if code == INVALID_REQUEST:
        return 400
    if code in (PARSE_ERROR, METHOD_NOT_FOUND, INVALID_PARAMS):
        return 500
    return 200
