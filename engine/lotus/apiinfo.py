"""Lotus API info: ``TOKEN:/ip4/HOST/tcp/PORT/http`` and its other forms, as Lotus reads them.

The rules are Lotus's own (``cli/util/apiinfo.go``, ``ParseApiInfo`` and ``DialArgs``), which
Curio uses for ``FULLNODE_API_INFO`` and ``[Apis] ChainApiInfo``:

* ``TOKEN:ADDRESS`` splits at the first colon, unless the text starts with ``/`` (a bare
  multiaddr, no token) or the colon begins ``://`` (a bare URL, no token);
* ADDRESS is a multiaddr: ``/ip4/A/tcp/P``, ``/ip6/A/tcp/P``, ``/dns/NAME/tcp/P`` (also
  ``dns4``/``dns6``), optionally followed by ``/http``, ``/ws`` (plain) or ``/https``, ``/wss``,
  ``/tls`` (TLS); or a URL (``http://``, ``https://``, ``ws://``, ``wss://``);
* the API lives under ``/rpc/v1`` of that address.

Lotus dials multiaddrs over a websocket; this client posts JSON-RPC over HTTP to the same path,
which a Lotus node serves too. Several endpoints may be given comma-separated
(``ParseApiInfoMulti``).

Error messages never repeat the text they were given: a token written in the wrong place (after
the address, or alone) would otherwise be printed. They name the position and the rule broken.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .errors import ApiInfoError

__all__ = ["API_VERSION", "ApiInfo", "parse_api_info", "parse_api_info_multi"]

API_VERSION = "v1"

_HOSTNAME = re.compile(
    r"(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
    r"(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?"
)
_TOKEN = re.compile(r"[!-~]+")  # printable ASCII without spaces: safe in a header
_PLAIN = {"http": "http", "ws": "http"}
_SECURE = {"https": "https", "wss": "https", "tls": "https"}
_SCHEMES = {"http": "http", "ws": "http", "https": "https", "wss": "https"}


@dataclass(frozen=True)
class ApiInfo:
    """Where a Lotus API is and how to authenticate to it.

    ``url`` is the JSON-RPC endpoint (``http://127.0.0.1:1234/rpc/v1``); ``token`` goes into
    ``Authorization: Bearer`` and nowhere else: it is left out of ``repr`` and ``str``.
    """

    url: str
    token: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return f"{self.url} ({'with a token' if self.token else 'no token'})"

    def headers(self) -> dict[str, str]:
        """The request headers that carry the token (none without one)."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


def parse_api_info(
    text: str, *, what: str = "FULLNODE_API_INFO", version: str = API_VERSION
) -> ApiInfo:
    """One endpoint: ``[TOKEN:]MULTIADDR`` or ``[TOKEN:]URL``.

    Raises:
        ApiInfoError: the text is empty, the address is neither a usable multiaddr nor a
            URL, or the token cannot be sent in a header. The message never includes the
            token (nor any part of the text that might be one).
    """
    raw = text.strip()
    if not raw:
        raise ApiInfoError(f"{what} is empty: expected TOKEN:/ip4/HOST/tcp/PORT/http")
    token: str | None = None
    address = raw
    # Lotus ParseApiInfo: no split for a bare multiaddr or a bare URL.
    if not raw.startswith("/"):
        colon = raw.find(":")
        if colon > 0 and not raw[colon + 1 :].startswith("//"):
            token, address = raw[:colon], raw[colon + 1 :]
    if token is not None and not _TOKEN.fullmatch(token):
        raise ApiInfoError(
            f"{what}: the token (before the first ':') holds spaces or non-ASCII characters"
        )
    if address.startswith("/"):
        url = _multiaddr_url(address, what, version)
    elif "://" in address:
        url = _url(address, what, version)
    else:
        raise ApiInfoError(
            f"{what} is neither TOKEN:MULTIADDR (TOKEN:/ip4/HOST/tcp/PORT/http) nor "
            "[TOKEN:]URL (http://HOST:PORT); the value is not shown, as it may hold a token"
        )
    return ApiInfo(url, token)


def parse_api_info_multi(
    text: str, *, what: str = "FULLNODE_API_INFO", version: str = API_VERSION
) -> list[ApiInfo]:
    """Comma-separated endpoints (Lotus ``ParseApiInfoMulti``), in the order given."""
    parts = text.split(",")
    return [
        parse_api_info(
            part, what=what if len(parts) == 1 else f"{what} (entry {i + 1})", version=version
        )
        for i, part in enumerate(parts)
    ]


def _multiaddr_url(address: str, what: str, version: str) -> str:
    parts = address.strip("/").split("/")
    host: str | None = None
    port: int | None = None
    scheme = "http"
    i = 0
    while i < len(parts):
        proto = parts[i]
        position = f"component {i + 1} of the multiaddr"
        if proto in ("ip4", "ip6", "dns", "dns4", "dns6"):
            if host is not None:
                raise ApiInfoError(f"{what}: more than one host in the multiaddr")
            if i + 1 >= len(parts) or not parts[i + 1]:
                raise ApiInfoError(f"{what}: /{proto} needs a value ({position})")
            host = _host(proto, parts[i + 1], what)
            i += 2
        elif proto == "tcp":
            if host is None:
                raise ApiInfoError(f"{what}: /tcp must follow /ip4, /ip6 or /dns HOST")
            if i + 1 >= len(parts):
                raise ApiInfoError(f"{what}: /tcp needs a port")
            port = _port(parts[i + 1], what)
            i += 2
        elif proto in _PLAIN or proto in _SECURE:
            if port is None:
                raise ApiInfoError(f"{what}: /{proto} must follow /tcp/PORT")
            if proto in _SECURE:
                scheme = "https"
            i += 1
        else:
            shown = f"/{proto}" if re.fullmatch(r"[a-z0-9-]{1,12}", proto) else "a component"
            raise ApiInfoError(
                f"{what}: {shown} ({position}) is not supported; expected "
                "/ip4|ip6|dns|dns4|dns6/HOST/tcp/PORT[/http|/https|/ws|/wss|/tls]"
            )
    if host is None:
        raise ApiInfoError(f"{what}: the multiaddr names no host (/ip4/HOST or /dns/NAME)")
    if port is None:
        raise ApiInfoError(f"{what}: the multiaddr has no /tcp/PORT")
    return f"{scheme}://{host}:{port}/rpc/{version}"


def _host(proto: str, value: str, what: str) -> str:
    try:
        if proto == "ip4":
            return str(ipaddress.IPv4Address(value))
        if proto == "ip6":
            return f"[{ipaddress.IPv6Address(value)}]"
    except ValueError:
        raise ApiInfoError(f"{what}: the /{proto} value is not an IP{proto[-1]} address") from None
    if not _HOSTNAME.fullmatch(value):
        raise ApiInfoError(f"{what}: the /{proto} value is not a host name")
    return value


def _port(text: str, what: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ApiInfoError(f"{what}: the TCP port must be a number from 1 to 65535")
    return int(text)


def _url(address: str, what: str, version: str) -> str:
    try:
        parts = urlsplit(address)
        port = parts.port
    except ValueError:
        raise ApiInfoError(f"{what}: the URL is malformed (host or port)") from None
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None:
        raise ApiInfoError(f"{what}: the URL scheme must be http, https, ws or wss")
    if parts.username is not None or parts.password is not None:
        raise ApiInfoError(
            f"{what}: put the token before the address (TOKEN:http://HOST:PORT), not in the URL"
        )
    if parts.query or parts.fragment:
        raise ApiInfoError(f"{what}: the URL may not have a query or fragment")
    host = parts.hostname
    if not host:
        raise ApiInfoError(f"{what}: the URL names no host")
    if ":" in host:
        host = f"[{host}]"
    elif not _HOSTNAME.fullmatch(host):
        raise ApiInfoError(f"{what}: the URL's host is not a host name or IP address")
    if port == 0:
        raise ApiInfoError(f"{what}: the TCP port must be a number from 1 to 65535")
    path = parts.path.rstrip("/")
    if not path.endswith(f"/rpc/{version}"):
        path = f"{path}/rpc/{version}"  # Lotus DialArgs: url.JoinPath(addr, "rpc", version)
    netloc = host if port is None else f"{host}:{port}"
    return f"{scheme}://{netloc}{path}"
