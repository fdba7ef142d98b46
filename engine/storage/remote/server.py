"""The storage server: this host's storage paths over HTTP, as Lotus and Curio serve them.

Routes (Curio ``lib/paths/http_handler.go``; every one needs the cluster secret)::

    GET    /remote/{type}/{s-t0<miner>-<number>}   a file (Range requests: 206) or a cache
                                                   directory as a tar stream (no Range)
    DELETE /remote/{type}/{s-t0<miner>-<number>}   remove an *undeclared* copy (a moved source)
    GET    /remote/stat/{storage-id}               the path's filesystem figures (JSON)
    POST   /remote/vanilla/single                  a PoSt vanilla proof of one sector, made here
    POST   /remote/vanilla/porep                   a sector's PoRep vanilla proof, made here

Only files of storage paths attached on this host are reachable, and only at the names Lotus
gives them: ``{type}`` must be a file type's name and the id a sector name, so no request can
name anything else (``..``, ``/`` or ``%2e%2e`` make the request malformed, not a path), and a
file or cache entry whose real location lies outside its storage path (a symlink out) is
refused. A sector file is served only while it is declared on a path of this host.

Why PoSt goes through ``/remote/vanilla/single`` instead of range reads: a vanilla proof opens
10 (WindowPoSt) or 66 (WinningPoSt) leaves, each with its Merkle path, read from the replica and
TreeR; over range reads that is a request per node. Made on the host that holds the files (what
Curio does), only the proof travels (a few KiB), the files are read at local speed, and the
server's answer is verified by the caller like any proof. ``/remote/vanilla/porep`` is the
same for PoRep (Curio's route of that name): the proof opens the replica, every layer's column
and TreeC/TreeR/TreeD paths for each challenge, so it is made where the sealing cache lies and
only the proof (tens of KiB for 2 KiB sectors) crosses the network.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import tarfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from ..filetypes import SectorFileType, parse_types
from ..hosts import this_host
from ..paths import URLS_ISOLATION, local_paths, refresh_host_urls
from ..sectors import find_sector, parse_sector_name, sector_file_path
from .secret import ClusterSecret, cluster_secret

if TYPE_CHECKING:
    from engine.harmonydb import DB

__all__ = [
    "DEFAULT_LISTEN",
    "ListenAddress",
    "StorageServer",
    "parse_listen",
]

log = logging.getLogger(__name__)

DEFAULT_LISTEN = "127.0.0.1:0"
"""Loopback, on a port the kernel picks: nothing outside this host can connect unless the
operator says so, and two processes on one host (a worker and a console) never collide; each
records its own URL."""

TAR_CHUNK = 1 << 20
#: seconds a tar stream waits for the client to take a chunk before giving up
WRITE_TIMEOUT = 60.0
TOTAL_BYTES_HEADER = "X-Harmony-Total-Bytes"


@dataclass(frozen=True)
class ListenAddress:
    host: str
    port: int

    @property
    def is_loopback(self) -> bool:
        return self.host in ("127.0.0.1", "::1", "localhost") or self.host.startswith("127.")


def parse_listen(text: str) -> ListenAddress:
    """``"127.0.0.1:0"``, ``"0.0.0.0:12310"``, ``"[::1]:0"`` or ``":12310"`` (all interfaces).

    Raises ValueError with a message for the operator.
    """
    text = text.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
        if not sep or not rest.startswith(":"):
            raise ValueError(f"bad listen address {text!r} (expected [ADDR]:PORT)")
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise ValueError(f"bad listen address {text!r} (expected ADDR:PORT, port 0 = any)")
    host = host or "0.0.0.0"
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"bad port in listen address {text!r}") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} out of range in listen address {text!r}")
    return ListenAddress(host, port)


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class StorageServer:
    """Serve the storage paths of ``host`` (default: this machine) on ``listen``.

    ``advertise``: the base URL other hosts use (``http://name:port/remote``); by default the
    listen address, or this host's name when listening on every interface. ``prove``: how to
    run a vanilla proof (default: a worker thread); a node passes its process pool.
    """

    def __init__(
        self,
        db: DB,
        *,
        host: str | None = None,
        listen: str | ListenAddress = DEFAULT_LISTEN,
        advertise: str | None = None,
        prove: Callable[..., Awaitable[object]] | None = None,
    ) -> None:
        self.db = db
        self.host = host or this_host()
        self.listen = parse_listen(listen) if isinstance(listen, str) else listen
        self.advertise = advertise
        self.prove = prove
        self.url: str | None = None
        self._secret: ClusterSecret | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        """Listen, record this server's URL for the host's paths, and return the URL."""
        self._secret = await cluster_secret(self.db)
        app = web.Application(middlewares=[self._guard], client_max_size=1 << 16)
        app.router.add_get("/remote/stat/{id}", self._stat)
        app.router.add_post("/remote/vanilla/single", self._vanilla_single)
        app.router.add_post("/remote/vanilla/porep", self._vanilla_porep)
        app.router.add_get("/remote/{type}/{id}", self._get_sector)
        app.router.add_delete("/remote/{type}/{id}", self._delete_sector)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.listen.host, self.listen.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        sockname = runner.addresses[0]
        port = sockname[1]
        if self.advertise:
            self.url = self.advertise.rstrip("/")
        else:
            name = self.listen.host
            if name in ("0.0.0.0", "::"):
                name = self.host
            if ":" in name:
                name = f"[{name}]"
            self.url = f"http://{name}:{port}/remote"
        try:
            await self._register()
        except BaseException:
            # Not listed, so not serving: nobody would find this port, and a retry starts anew.
            # A cancel can land after the registration committed: what may be listed is
            # dropped too (else peers kept reading from a URL nobody serves).
            url, self._runner, self.url = self.url, None, None
            await runner.cleanup()
            await asyncio.shield(self._unregister(url))
            raise
        log.info(
            "storage server for %s listening on %s:%d (%s)", self.host, *sockname[:2], self.url
        )
        return self.url

    async def stop(self, *, unregister: bool = True) -> None:
        """Stop serving (open reads are cut) and drop this server's URL."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        if unregister and self.url is not None:
            await self._unregister(self.url)

    async def _unregister(self, url: str) -> None:
        """Drop ``url`` from the listing (nothing if it is not there); a failure is logged."""

        async def drop(tx):  # type: ignore[no-untyped-def]
            await tx.exec("DELETE FROM storage_servers WHERE url = $1", url)
            await refresh_host_urls(tx, self.host)
            await tx.commit()

        try:
            await self.db.transaction(drop, isolation=URLS_ISOLATION)
        except Exception as exc:  # readers meet a refused connection and move on
            log.warning("storage server %s: could not drop its URL: %s", url, exc)

    async def _register(self) -> None:
        url = self.url

        async def register(tx):  # type: ignore[no-untyped-def]
            await tx.exec(
                "INSERT INTO storage_servers (url, hostname) VALUES ($1, $2) "
                "ON CONFLICT (url) DO UPDATE SET hostname = EXCLUDED.hostname, started_at = now()",
                url,
                self.host,
            )
            await refresh_host_urls(tx, self.host)
            await tx.commit()

        await self.db.transaction(register, isolation=URLS_ISOLATION)

    # ------------------------------------------------------------------ request handling

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        assert self._secret is not None
        if not self._secret.accepts(request.headers.get("Authorization")):
            return web.Response(
                status=401,
                text="the cluster's storage secret is required\n",
                headers={"WWW-Authenticate": "Bearer"},
            )
        try:
            return await handler(request)
        except _Refused as exc:
            return web.Response(status=exc.status, text=exc.reason + "\n")

    def _sector(self, request: web.Request) -> tuple[SectorFileType, int, int]:
        type_name, sector_id = request.match_info["type"], request.match_info["id"]
        try:
            ft = parse_types(type_name)
        except ValueError:
            ft = SectorFileType(0)
        if not ft.is_single() or ft.dir_name != type_name:
            raise _Refused(400, f"unknown sector file type {type_name!r}")
        parsed = parse_sector_name(sector_id)
        if parsed is None:
            raise _Refused(400, f"bad sector id {sector_id!r} (expected s-t0<miner>-<number>)")
        return ft, parsed[0], parsed[1]

    async def _local(self, ft: SectorFileType, miner: int, sector: int) -> Path:
        """The declared local copy, resolved, inside its storage path."""
        outside = None
        for loc in await find_sector(self.db, miner, sector, ft, host=self.host):
            if loc.local_path is None:
                continue
            root = loc.local_path.parent.parent
            found = await asyncio.to_thread(_inside, root, loc.local_path)
            if found == "outside":
                outside = loc.local_path
            elif found is not None:
                return Path(found)
        if outside is not None:
            log.warning("refused to serve %s: it leads outside its storage path", outside)
            raise _Refused(403, f"the {ft} file of sector {miner}-{sector} is outside its path")
        raise _Refused(404, f"no {ft} file of s-t0{miner}-{sector} on {self.host}")

    async def _get_sector(self, request: web.Request) -> web.StreamResponse:
        ft, miner, sector = self._sector(request)
        path = await self._local(ft, miner, sector)
        if not path.is_dir():
            return web.FileResponse(path, headers={"Content-Type": "application/octet-stream"})
        if "Range" in request.headers:
            raise _Refused(416, "range requests are not supported on a cache directory (tar)")
        entries, total = await asyncio.to_thread(_tar_listing, path)
        response = web.StreamResponse(
            headers={"Content-Type": "application/x-tar", TOTAL_BYTES_HEADER: str(total)}
        )
        await response.prepare(request)
        loop = asyncio.get_running_loop()

        def send(data: bytes) -> None:
            asyncio.run_coroutine_threadsafe(response.write(data), loop).result(WRITE_TIMEOUT)

        await asyncio.to_thread(_write_tar, path, entries, send)
        await response.write_eof()
        return response

    async def _delete_sector(self, request: web.Request) -> web.StreamResponse:
        """Remove this host's undeclared copies of a file (what a move from here leaves)."""
        ft, miner, sector = self._sector(request)
        removed = 0
        for path in await local_paths(self.db, self.host):
            declared = await self.db.query_value(
                "SELECT 1 FROM sector_location WHERE miner_id = $1 AND sector_num = $2 "
                "AND sector_filetype = $3 AND storage_id = $4",
                miner,
                sector,
                int(ft),
                path.storage_id,
            )
            if declared:
                continue
            target = sector_file_path(path.local_path, ft, miner, sector)
            if await asyncio.to_thread(_inside, path.local_path, target) == "outside":
                continue
            from ..durable import remove_entry

            if await asyncio.to_thread(remove_entry, target):
                removed += 1
        return web.json_response({"removed": removed})

    async def _stat(self, request: web.Request) -> web.StreamResponse:
        storage_id = request.match_info["id"]
        paths = await local_paths(self.db, self.host, storage_id)
        if not paths:
            raise _Refused(404, f"storage path {storage_id!r} is not attached on {self.host}")
        st = await asyncio.to_thread(os.statvfs, paths[0].local_path)
        return web.json_response(
            {
                "Capacity": st.f_blocks * st.f_frsize,
                "Available": st.f_bavail * st.f_frsize,
                "FSAvailable": st.f_bavail * st.f_frsize,
                "Max": paths[0].max_storage,
            }
        )

    async def _vanilla_single(self, request: web.Request) -> web.StreamResponse:
        """Body: ``{"miner", "sector", "comm_r" (hex), "randomness" (hex), "challenges"}``.
        200: the proof's bytes; 404: the files are not here; 422: they are here but cannot be
        proven (``{"kind", "detail"}``, as a fault)."""
        from engine.proofs import PostSector, ProofError
        from engine.proofs.post import _fault_kind, prove_sector

        try:
            body = json.loads(await request.read())
            miner, number = int(body["miner"]), int(body["sector"])
            comm_r, randomness = bytes.fromhex(body["comm_r"]), bytes.fromhex(body["randomness"])
            challenges = int(body["challenges"])
        except (ValueError, KeyError, TypeError) as exc:
            raise _Refused(400, f"bad vanilla proof request: {exc}") from None
        if not 1 <= challenges <= 1000 or len(randomness) != 32 or len(comm_r) != 32:
            raise _Refused(400, "bad vanilla proof request: challenges, randomness or comm_r")
        sealed = await self._local(SectorFileType.SEALED, miner, number)
        cache = await self._local(SectorFileType.CACHE, miner, number)
        sector = PostSector(number, comm_r, str(sealed), str(cache))
        run = self.prove or asyncio.to_thread
        try:
            proof = await run(prove_sector, sector, randomness, challenges)
        except (ProofError, OSError) as exc:
            return web.json_response({"kind": _fault_kind(exc), "detail": str(exc)}, status=422)
        return web.Response(body=proof.to_bytes(), content_type="application/octet-stream")  # type: ignore[attr-defined]

    async def _vanilla_porep(self, request: web.Request) -> web.StreamResponse:
        """Body: ``{"miner", "sector", "seed" (hex)}``. 200: the PoRep vanilla proof's bytes
        (the caller verifies it against the sector's CommR and CommD); 404: the unsealed file,
        replica or cache is not here; 422: they are here but cannot be proven
        (``{"kind", "detail"}``)."""
        from engine.proofs import ProofError, prove_porep
        from engine.proofs.post import _fault_kind

        try:
            body = json.loads(await request.read())
            miner, number = int(body["miner"]), int(body["sector"])
            seed = bytes.fromhex(body["seed"])
        except (ValueError, KeyError, TypeError) as exc:
            raise _Refused(400, f"bad PoRep proof request: {exc}") from None
        if len(seed) != 32:
            raise _Refused(400, "bad PoRep proof request: the seed has 32 bytes")
        unsealed = await self._local(SectorFileType.UNSEALED, miner, number)
        sealed = await self._local(SectorFileType.SEALED, miner, number)
        cache = await self._local(SectorFileType.CACHE, miner, number)
        run = self.prove or asyncio.to_thread
        try:
            proof = await run(prove_porep, str(unsealed), str(sealed), str(cache), seed)
        except (ProofError, OSError) as exc:
            return web.json_response({"kind": _fault_kind(exc), "detail": str(exc)}, status=422)
        return web.Response(body=proof.to_bytes(), content_type="application/octet-stream")  # type: ignore[attr-defined]


def _inside(root: Path, path: Path) -> str | None:
    """``path`` resolved if it exists inside ``root`` (symlinks followed), ``"outside"`` if it
    leads out of it, None if absent."""
    try:
        real = os.path.realpath(path, strict=True)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return "outside"  # a symlink loop
    real_root = os.path.realpath(root)
    if os.path.commonpath([real_root, real]) != real_root:
        return "outside"
    return real


def _tar_listing(directory: Path) -> tuple[list[tuple[str, bool]], int]:
    """Every entry under a cache directory (relative name, is a directory) and the bytes of
    its files. A symlink or special file refuses the whole directory: it could lead out."""
    entries: list[tuple[str, bool]] = []
    total = 0
    for base, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted([*dirs, *files]):
            full = os.path.join(base, name)
            st = os.lstat(full)
            rel = os.path.relpath(full, directory)
            if stat.S_ISDIR(st.st_mode):
                entries.append((rel, True))
            elif stat.S_ISREG(st.st_mode):
                entries.append((rel, False))
                total += st.st_size
            else:
                raise _Refused(403, f"{rel} in the cache is not a regular file; refused")
    return entries, total


class _Sink:
    """A write-only file object for tarfile's stream mode."""

    def __init__(self, send: Callable[[bytes], None]) -> None:
        self.send = send

    def write(self, data: bytes) -> int:
        if data:
            self.send(bytes(data))
        return len(data)


def _write_tar(directory: Path, entries: list[tuple[str, bool]], send: Callable[[bytes], None]):  # type: ignore[no-untyped-def]
    with tarfile.open(fileobj=_Sink(send), mode="w|", bufsize=TAR_CHUNK) as tar:  # type: ignore[call-overload]
        for rel, is_dir in entries:
            full = os.path.join(directory, rel)
            info = tar.gettarinfo(full, arcname=rel)
            if is_dir:
                tar.addfile(info)
                continue
            with open(full, "rb") as f:
                tar.addfile(info, f)
