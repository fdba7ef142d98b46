"""``--metrics-listen``: where the metrics endpoint listens.

``PORT`` or ``:PORT`` listens on loopback only (127.0.0.1): metrics name machines, task types,
storage paths and miners, so they reach the network only when an operator names an address
(``0.0.0.0:9464`` for every interface, ``10.0.0.5:9464`` for one, ``[::]:9464`` for IPv6).
Port 0 picks a free port (tests; the log says which).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

__all__ = ["LOOPBACK", "ListenAddress", "parse_listen"]

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class ListenAddress:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_listen(text: str) -> ListenAddress:
    """``HOST:PORT``, ``[V6]:PORT``, ``:PORT`` or ``PORT``; raises ValueError saying what is
    wrong."""
    text = text.strip()
    if not text:
        raise ValueError("empty address: give HOST:PORT, or PORT for loopback")
    host, port_text = LOOPBACK, text
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or not text[end + 1 :].startswith(":"):
            raise ValueError(f"{text!r}: an IPv6 address is written [ADDRESS]:PORT")
        host, port_text = text[1:end], text[end + 2 :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{text!r}: {host!r} is not an IPv6 address") from None
    elif ":" in text:
        head, _, port_text = text.rpartition(":")
        if ":" in head:
            raise ValueError(f"{text!r}: write an IPv6 address in brackets, [ADDRESS]:PORT")
        host = head or LOOPBACK
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"{text!r}: the port {port_text!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"{text!r}: the port must be 0-65535")
    return ListenAddress(host, port)
