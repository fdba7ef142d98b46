"""Which host is asking, and the URLs other hosts reach its storage paths at.

A storage path is reachable from the hosts it was attached on, each at its own local directory.
Every function that touches local files takes ``host=`` (default: this machine's hostname) so a
test can play several hosts in one process, and an operator can see paths per host.
"""

from __future__ import annotations

import socket
from pathlib import Path

__all__ = ["host_url", "is_http_url", "this_host"]


def this_host() -> str:
    """This machine's name, as the storage tables record it."""
    return socket.gethostname()


def host_url(host: str, local_path: Path | str, server_url: str | None = None) -> str:
    """The URL recorded in ``storage_path.urls`` for one host's view of a path.

    Curio records ``http://host:port/remote``, served by each node: so do we for a host whose
    storage server runs (``server_url``). A host serving none keeps ``file://host/dir``, which
    says where the files are but that no other host can read them.
    """
    if server_url:
        return server_url
    return f"file://{host}{Path(local_path)}"


def is_http_url(url: str) -> bool:
    """An URL a remote reader can fetch from (``file://`` ones name a host that serves none)."""
    return url.startswith(("http://", "https://"))
