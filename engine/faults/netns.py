"""A cluster of real hosts on one machine: Linux network namespaces on a bridge.

Hostname, IP, the ``<hostname>:worker`` identity, per-host storage, NOTIFY wake-ups across hosts
and database round trips over a real network path cannot be exercised on the loopback of one
host. Here each host is a network namespace with its own IP on a bridge, and every process
started on it gets a UTS namespace of its own with the host's hostname (what
``socket.gethostname()`` returns there). The database server runs in the root namespace and is
reached over the bridge: through a :class:`~engine.faults.delay_proxy.DelayProxyProcess`
listening on the bridge's address (the default: it adds ``latency_ms`` per direction, since this
kernel has no ``netem``, and counts each host's statements and notifications), or directly when
the server itself listens on the bridge (``proxy=False``)::

    with NetnsCluster(["a", "b"], db_url=pg_url, latency_ms=1) as cluster:
        proc = cluster.host("a").spawn(["harmony", "run", "--engine-only"],
                                       env={"HARMONY_DB_URL": cluster.db_url_for("a")})
        cluster.host("a").hostname        # "hx-a": socket.gethostname() inside
        cluster.host("a").ip              # its address on the bridge
        cluster.host_stats()["a"].statements

Needs root and iproute2's ``ip`` plus util-linux's ``unshare``; :func:`unavailable_reason`
says why not (tests skip with it). Everything made is named ``<prefix><pid><letter>…``
(bridge ``…br``, namespaces ``…-<host>``, veths ``…v<i>``; the letter tells one process's
clusters apart) and torn down by :meth:`NetnsCluster.close`, which a ``with`` block,
``atexit`` and a failed start all call; whatever a killed run left behind (its PID no longer
alive) is removed by the next start with the same prefix (:func:`remove_leftovers`). Processes
started with :meth:`NetnsHost.spawn` are killed before their namespace goes.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import itertools
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .delay_proxy import DelayProxyProcess, HostCounts
from .pgproxy import PgProxy

__all__ = [
    "NetnsCluster",
    "NetnsHost",
    "remove_leftovers",
    "unavailable_reason",
]

DEFAULT_PREFIX = "hx"
#: the second octet of the 10.x.y.0/24 subnets tried for bridges
_SUBNET_OCTET = 213
_IFNAME_MAX = 15


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


def unavailable_reason() -> str | None:
    """Why network-namespace hosts cannot be made here (None: they can)."""
    if os.name != "posix" or not hasattr(os, "geteuid"):
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "network namespaces need root (run the cluster harness as root)"
    for tool, package in (("ip", "iproute2"), ("unshare", "util-linux"), ("hostname", "hostname")):
        if shutil.which(tool) is None:
            return f"`{tool}` not found (install {package})"
    probe = f"{DEFAULT_PREFIX}probe{os.getpid()}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"`ip netns add` refused: {made.stderr.strip()}"
    try:
        uts = subprocess.run(
            ["ip", "netns", "exec", probe, "unshare", "--uts", "hostname", "probe"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if uts.returncode != 0:
            return f"`unshare --uts` refused: {uts.stderr.strip()}"
        bridge = _ip("link", "add", probe[:_IFNAME_MAX], "type", "bridge", check=False)
        if bridge.returncode != 0:
            return f"cannot make a bridge: {bridge.stderr.strip()}"
        _ip("link", "del", probe[:_IFNAME_MAX], check=False)
    finally:
        _ip("netns", "del", probe, check=False)
    return None


_made = itertools.count()


def _next_letter() -> str:
    """Tells apart the clusters one process has at once (26, then the letters come round
    again: a cluster that old is long closed)."""
    return chr(ord("a") + next(_made) % 26)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_leftovers(prefix: str = DEFAULT_PREFIX) -> list[str]:
    """Delete namespaces and links named ``<prefix><pid>…`` whose process is gone (a run that
    was killed before it could clean up); return their names."""
    pattern = re.compile(rf"^{re.escape(prefix)}(\d+)[a-z](?:br|v\d+|-.+)$")
    removed: list[str] = []
    for line in _ip("-o", "link", "show", check=False).stdout.splitlines():
        parts = line.split(":", 2)
        if len(parts) < 2:
            continue
        name = parts[1].strip().split("@", 1)[0]
        match = pattern.match(name)
        if match and not _alive(int(match.group(1))):
            _ip("link", "del", name, check=False)
            removed.append(name)
    # Namespaces after links: deleting a namespace frees its veth ends only when the kernel
    # gets to it, so the outer ends are deleted first, above.
    for line in _ip("netns", "list", check=False).stdout.splitlines():
        name = line.split(" ", 1)[0].strip()
        match = pattern.match(name)
        if match and not _alive(int(match.group(1))):
            _ip("netns", "del", name, check=False)
            removed.append(name)
    return removed


def _free_subnet() -> ipaddress.IPv4Network:
    """A 10.213.x.0/24 no address or route of this machine overlaps (picked from this PID, so
    two runs at once try different ones first)."""
    used: list[ipaddress.IPv4Network] = []
    for line in _ip("-4", "-o", "addr", "show", check=False).stdout.splitlines():
        words = line.split()
        if "inet" in words:
            used.append(ipaddress.ip_interface(words[words.index("inet") + 1]).network)
    for line in _ip("-4", "route", "show", check=False).stdout.splitlines():
        first = line.split(" ", 1)[0]
        if first != "default":
            with contextlib.suppress(ValueError):
                used.append(ipaddress.ip_network(first, strict=False))
    start = os.getpid() % 250
    for step in range(250):
        net = ipaddress.ip_network(f"10.{_SUBNET_OCTET}.{(start + step) % 250 + 1}.0/24")
        if not any(net.overlaps(other) for other in used):
            return net
    raise RuntimeError(f"no free 10.{_SUBNET_OCTET}.x.0/24 subnet for the bridge")


@dataclass
class NetnsHost:
    """One host: a network namespace with an address on the bridge and its own hostname."""

    name: str
    hostname: str
    ip: str
    netns: str
    cluster: NetnsCluster = field(repr=False)
    procs: list[subprocess.Popen[bytes] | subprocess.Popen[str]] = field(
        default_factory=list, repr=False
    )

    def argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` as run on this host: in its network namespace, in a new UTS namespace whose
        hostname is this host's. For callers that start processes themselves
        (``asyncio.create_subprocess_exec(*host.argv([...]))``); :meth:`spawn` also tracks
        them for the cluster's clean-up."""
        return [
            "ip",
            "netns",
            "exec",
            self.netns,
            "unshare",
            "--uts",
            "--",
            "sh",
            "-c",
            'hostname "$0" && exec "$@"',
            self.hostname,
            *argv,
        ]

    def spawn(
        self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, **popen: object
    ) -> subprocess.Popen[str]:
        """Start ``argv`` on this host (``env`` is added to this process's environment; other
        keywords go to :class:`subprocess.Popen`, ``text=True`` by default). The cluster kills
        it, if still running, when it closes."""
        full_env = dict(os.environ, **(env or {}))
        popen.setdefault("text", True)
        proc: subprocess.Popen[str] = subprocess.Popen(self.argv(argv), env=full_env, **popen)  # type: ignore[call-overload]
        self.procs.append(proc)
        return proc

    def run(
        self, argv: Sequence[str], *, timeout: float = 60, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` on this host to completion (output captured)."""
        return subprocess.run(
            self.argv(argv),
            env=dict(os.environ, **(env or {})),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def db_url(self) -> str:
        """The database URL as seen from this host (see :meth:`NetnsCluster.db_url_for`)."""
        return self.cluster.db_url_for(self.name)


class NetnsCluster:
    """Hosts named ``hosts`` (or ``h0``… for a count) on one bridge; see the module docstring.

    ``db_url``: the database the hosts use, any URL the root namespace can reach (TCP or a Unix
    socket); None to build the network first (a server that is to listen on the bridge's
    address needs it to exist) and set :attr:`upstream_url` later (``proxy=False`` only).
    ``proxy=True`` (default): the hosts reach it through a delay proxy on the bridge's
    address (``latency_ms`` per direction; :meth:`host_stats` counts per host).
    ``proxy=False``: the server must itself listen on :attr:`gateway` at ``db_url``'s port;
    the hosts connect to it there (no latency can be added, nothing is counted).
    """

    def __init__(
        self,
        hosts: Sequence[str] | int,
        *,
        db_url: str | None,
        latency_ms: float = 0.0,
        proxy: bool = True,
        prefix: str = DEFAULT_PREFIX,
        hostname_prefix: str = "hx-",
    ) -> None:
        names = [f"h{i}" for i in range(hosts)] if isinstance(hosts, int) else list(hosts)
        if not names or len(set(names)) != len(names):
            raise ValueError("hosts must be distinct names (at least one)")
        for name in names:
            if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,30}", name):
                raise ValueError(f"host name {name!r}: lowercase letters, digits and '-' only")
        if not proxy and latency_ms:
            raise ValueError("latency needs the proxy (proxy=True)")
        if proxy and db_url is None:
            raise ValueError("the proxy needs db_url")
        self.names = names
        self.upstream_url = db_url
        self.latency_ms = latency_ms
        self.use_proxy = proxy
        # the PID (whose death marks leftovers) and a letter per cluster of this process
        self.tag = f"{prefix}{os.getpid()}{_next_letter()}"
        if len(f"{self.tag}v{len(names)}") > _IFNAME_MAX:
            raise ValueError(f"prefix {prefix!r} is too long for interface names")
        self.prefix = prefix
        self.hostname_prefix = hostname_prefix
        self.bridge = f"{self.tag}br"
        self.subnet: ipaddress.IPv4Network | None = None
        self.gateway = ""
        self.hosts: dict[str, NetnsHost] = {}
        self.proxy: DelayProxyProcess | None = None
        self._links: list[str] = []
        self._closed = False

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> NetnsCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> NetnsCluster:
        reason = unavailable_reason()
        if reason:
            raise RuntimeError(f"cannot build the cluster: {reason}")
        remove_leftovers(self.prefix)
        atexit.register(self.close)
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def _build(self) -> None:
        self.subnet = _free_subnet()
        addresses = self.subnet.hosts()
        self.gateway = str(next(addresses))
        prefixlen = self.subnet.prefixlen
        _ip("link", "add", self.bridge, "type", "bridge")
        self._links.append(self.bridge)
        _ip("addr", "add", f"{self.gateway}/{prefixlen}", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for i, name in enumerate(self.names):
            netns = f"{self.tag}-{name}"
            outside = f"{self.tag}v{i}"
            _ip("netns", "add", netns)
            host = NetnsHost(
                name, f"{self.hostname_prefix}{name}", str(next(addresses)), netns, self
            )
            self.hosts[name] = host
            _ip("link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", netns)
            self._links.append(outside)
            _ip("link", "set", outside, "master", self.bridge, "up")
            _ip("-n", netns, "addr", "add", f"{host.ip}/{prefixlen}", "dev", "eth0")
            _ip("-n", netns, "link", "set", "eth0", "up")
            _ip("-n", netns, "link", "set", "lo", "up")
        if self.use_proxy:
            assert self.upstream_url is not None
            self.proxy = DelayProxyProcess.for_url(
                self.upstream_url, listen_host=self.gateway, delay_ms=self.latency_ms
            )

    def close(self) -> None:
        """Kill what was spawned on the hosts, stop the proxy, delete namespaces, veths and the
        bridge. Safe to call more than once, and after a partial start."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            atexit.unregister(self.close)
        for host in self.hosts.values():
            for proc in host.procs:
                if proc.poll() is None:
                    proc.kill()
            for proc in host.procs:
                with contextlib.suppress(Exception):
                    proc.wait(10)
                # a test that failed before reading its pipes leaves them open; closed here, not
                # by the garbage collector during a later test (ResourceWarning)
                for pipe in (proc.stdin, proc.stdout, proc.stderr):
                    if pipe is not None:
                        with contextlib.suppress(Exception):
                            pipe.close()
        if self.proxy is not None:
            with contextlib.suppress(Exception):
                self.proxy.close()
        for host in self.hosts.values():
            _ip("netns", "del", host.netns, check=False)
        for link in reversed(self._links):
            _ip("link", "del", link, check=False)

    # ------------------------------------------------------------------ use

    def host(self, name: str) -> NetnsHost:
        try:
            return self.hosts[name]
        except KeyError:
            raise KeyError(f"no host {name!r}; hosts: {', '.join(self.names)}") from None

    def db_url_for(self, host: str | NetnsHost) -> str:
        """The database URL processes on ``host`` use: ``db_url`` with its host and port
        replaced by the proxy's (or, without the proxy, by the bridge address); user, password,
        database and other parameters kept. Pass it in the environment (``HARMONY_DB_URL``),
        never in argv: it may carry a password."""
        name = host.name if isinstance(host, NetnsHost) else host
        self.host(name)
        if self.upstream_url is None:
            raise RuntimeError("no database yet: set upstream_url")
        if self.proxy is not None:
            return self.proxy.url(self.upstream_url)
        port = PgProxy.for_url(self.upstream_url).upstream_port or 5432
        parts = urlsplit(self.upstream_url)
        userinfo, at, _ = parts.netloc.rpartition("@")
        query = [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k not in ("host", "port")
        ]
        netloc = f"{userinfo}{at}{self.gateway}:{port}"
        return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), parts.fragment))

    def host_stats(self) -> dict[str, HostCounts]:
        """Each host's traffic through the proxy since it started, by host name (hosts that
        have not connected yet read as zeros). Needs the proxy."""
        if self.proxy is None:
            raise RuntimeError("host_stats needs the proxy (proxy=True)")
        by_ip = self.proxy.stats()
        return {name: by_ip.get(h.ip, HostCounts()) for name, h in self.hosts.items()}
