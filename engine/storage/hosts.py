"""Which host is asking.

A storage path is reachable from the hosts it was attached on, each at its own local directory.
Every function that touches local files takes ``host=`` (default: this machine's hostname) so a
test can play several hosts in one process, and an operator can see paths per host.
"""

from __future__ import annotations

import socket
from pathlib import Path

__all__ = ["host_url", "this_host"]


def this_host() -> str:
    """This machine's name, as the storage tables record it."""
    return socket.gethostname()


def host_url(host: str, local_path: Path | str) -> str:
    """The URL recorded in ``storage_path.urls`` for one host's view of a path.

    Curio records ``http://host:port/remote``, served by each node; here files are reached
    locally, so the URL says which host and which directory.
    """
    return f"file://{host}{Path(local_path)}"
