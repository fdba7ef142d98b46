"""Each host measures the paths it reaches and reports them (Curio ``Local.reportHealth``).

Every 10 s (+-10 % jitter, so a cluster started at once does not beat in lockstep) the host
checks each attached directory for real: it exists, its ``sectorstore.json`` still carries the
path's ID (a different disk mounted there must not be written to), a file can be created and
fsynced in it. It then records ``psutil.disk_usage``, the filesystem it lies on (``fs_id``: the
directory's ``st_dev`` on this host, so paths sharing one disk are counted once), and its own
accounting (``used``: bytes of
sector files, measured only where ``max_storage`` is set, as in Curio; ``reserved``: live
reservations not yet on disk) and derives ``available``.
Failures are recorded as ``heartbeat_err``; a path nobody has reported for 50 s is stale. Both
take the path out of placement, without anyone having to notice.

Health is recorded per host and per path: the path row carries an error only when no host
currently sees it healthy.

Every ``missing_every`` seconds (10 min) the host also looks for the declared files a proof
needs that are gone from its paths (:mod:`.missing`): a sealed file deleted by hand is marked
gone, and alerted on, without anyone running a redeclare, and without its declaration dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from engine.harmonydb import HarmonyDBError

from .durable import entry_size
from .errors import CorruptStoreMeta
from .filetypes import SectorFileType
from .hosts import this_host
from .meta import META_FILE, read_meta
from .missing import MISSING_CHECK_EVERY, check_declared_files
from .paths import local_paths
from .placement import STALE_AFTER
from .reservations import cleanup_dead_reservations
from .sectors import sector_name

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx

    from .paths import LocalPath

__all__ = ["HEARTBEAT_INTERVAL", "REDECLARE_EVERY", "PathHealth", "StorageHeartbeat"]

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = 10.0
"""Seconds between heartbeats (Curio ``HeartbeatInterval``)."""

REDECLARE_EVERY = 4 * 3600.0
"""Curio re-declares every local sector file every 4 h, catching files added by hand."""


@dataclass(frozen=True)
class PathHealth:
    """One path as one host just measured it. ``error`` is None when healthy."""

    storage_id: str
    local_path: Path
    error: str | None
    capacity: int = 0
    fs_available: int = 0
    used: int = 0
    reserved: int = 0
    available: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class _Pending:
    """A live reservation on a local path, whose file may already be partly written."""

    id: int
    storage_id: str
    miner_id: int
    sector_num: int
    sector_filetype: int


@dataclass(frozen=True)
class _Measure:
    capacity: int
    fs_available: int
    used: int
    on_disk: dict[int, int]
    #: the filesystem on this host (``st_dev``): equal for two paths on one disk
    fs_id: str


def _measure(local: LocalPath, host: str, pending: list[_Pending]) -> _Measure:
    root = local.local_path
    if not root.exists():
        raise OSError(f"{root} does not exist (unmounted or removed?)")
    if not root.is_dir():
        raise OSError(f"{root} is not a directory")
    meta = read_meta(root)
    if meta is None:
        raise OSError(f"{root}/{META_FILE} is missing (a different disk mounted here?)")
    if meta.id != local.storage_id:
        raise OSError(
            f"{root}/{META_FILE} has ID {meta.id}, expected {local.storage_id} "
            "(a different disk mounted here?)"
        )
    probe = root / f".harmony-probe-{host}-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"ok")
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise OSError(f"{root} is not writable: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    usage = psutil.disk_usage(str(root))
    used = 0
    # Walking every sector file costs a stat per file every beat; like Curio, pay it only
    # where a limit makes the number matter.
    for ft in SectorFileType.all().bits() if local.max_storage > 0 else ():
        type_dir = root / ft.dir_name
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(type_dir):
                with contextlib.suppress(FileNotFoundError):
                    used += entry_size(Path(entry.path))
    on_disk: dict[int, int] = {}
    for r in pending:
        ft = SectorFileType(r.sector_filetype)
        type_dir = root / ft.dir_name
        name = sector_name(r.miner_id, r.sector_num)
        written = 0
        for candidate in [type_dir / name, *type_dir.glob(f".tmp-{name}.*")]:
            with contextlib.suppress(FileNotFoundError):
                written += entry_size(candidate)
        on_disk[r.id] = written
    return _Measure(usage.total, usage.free, used, on_disk, str(os.stat(root).st_dev))


# One statement per path and beat: this host's heartbeat, and the path's figures with the live
# reservations subtracted (available = min(fs free, max_storage - used) - reserved).
REPORT = """
WITH host AS (
    UPDATE storage_path_hosts SET last_heartbeat = now(), heartbeat_err = NULL, fs_id = $6
     WHERE storage_id = $1 AND hostname = $2
), held AS (
    SELECT COALESCE(sum(GREATEST(bytes - on_disk, 0)), 0)::bigint AS reserved
      FROM storage_reservations_live WHERE storage_id = $1
)
UPDATE storage_path p
   SET capacity = $3, fs_available = $4, used = $5, reserved = held.reserved,
       available = GREATEST(
           CASE WHEN p.max_storage > 0 THEN LEAST($4, p.max_storage - $5) ELSE $4 END
           - held.reserved, 0),
       last_heartbeat = now(), heartbeat_err = NULL
  FROM held
 WHERE p.storage_id = $1
RETURNING p.reserved, p.available
"""


class StorageHeartbeat:
    """Reports this host's storage paths every ``interval`` seconds.

    A long-running harmony process starts it as a task (``asyncio.create_task(hb.run())``)
    and cancels it or calls :meth:`stop` at shutdown. On start it first finishes or cleans up
    moves that a crash interrupted and re-declares the local sector files (as Curio does at
    startup), then beats; it re-declares again every ``redeclare_every`` seconds, and looks for
    declared files gone from disk every ``missing_every`` seconds (a redeclare looks too).
    """

    def __init__(
        self,
        db: DB,
        host: str | None = None,
        *,
        interval: float = HEARTBEAT_INTERVAL,
        jitter: float = 0.1,
        measure_timeout: float = 30.0,
        redeclare_every: float | None = REDECLARE_EVERY,
        missing_every: float | None = MISSING_CHECK_EVERY,
        recover_on_start: bool = True,
    ) -> None:
        self.db = db
        self.host = host or this_host()
        self.interval = interval
        self.jitter = jitter
        self.measure_timeout = measure_timeout
        self.redeclare_every = redeclare_every
        self.missing_every = missing_every
        self.recover_on_start = recover_on_start
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """Make :meth:`run` return after the beat in progress."""
        self._stop.set()

    async def run(self) -> None:
        """Beat until stopped or cancelled; a failing beat is logged, never fatal."""
        from .redeclare import redeclare  # it imports moves, which imports placement

        loop = asyncio.get_running_loop()
        if self.recover_on_start:
            try:
                await redeclare(self.db, host=self.host)  # recovers interrupted moves first
            except Exception:
                log.exception("storage: start-up recovery and redeclare failed")
        every = self.redeclare_every
        next_redeclare = loop.time() + every if every is not None else None
        # the start-up redeclare just looked; without one, the first look follows the first beat
        looked = loop.time() if self.recover_on_start else -float("inf")
        while not self._stop.is_set():
            try:
                await self.beat_once()
            except HarmonyDBError as exc:
                # Expected while the database is unreachable: one line a beat, not a traceback.
                log.warning("storage heartbeat failed: %s", exc)
            except Exception:
                log.exception("storage heartbeat failed")
            if every is not None and next_redeclare is not None and loop.time() >= next_redeclare:
                next_redeclare = loop.time() + every
                try:
                    await redeclare(self.db, host=self.host)
                    looked = loop.time()
                except Exception:
                    log.exception("storage: periodic redeclare failed")
            if self.missing_every is not None and loop.time() - looked >= self.missing_every:
                looked = loop.time()
                await self.look_for_missing()
            delay = self.interval * (1 + random.uniform(-self.jitter, self.jitter))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=delay)

    async def look_for_missing(self) -> None:
        """One look at this host's paths for declared files gone from disk (what :meth:`run`
        does every ``missing_every`` seconds); a failure is logged, never fatal."""
        try:
            await check_declared_files(self.db, host=self.host)
        except HarmonyDBError as exc:
            log.warning("storage: looking for missing sector files failed: %s", exc)
        except Exception:
            log.exception("storage: looking for missing sector files failed")

    async def beat_once(self) -> list[PathHealth]:
        """Measure and report every path attached on this host, now."""
        await cleanup_dead_reservations(self.db)
        paths = await local_paths(self.db, self.host)
        if not paths:
            return []
        pending = await self.db.select(
            "SELECT id, storage_id, miner_id, sector_num, sector_filetype "
            "FROM storage_reservations_live WHERE storage_id = ANY($1::varchar[])",
            [p.storage_id for p in paths],
            into=_Pending,
        )
        results = await asyncio.gather(*(self._beat_path(p, pending) for p in paths))
        return list(results)

    async def _beat_path(self, local: LocalPath, pending: list[_Pending]) -> PathHealth:
        mine = [r for r in pending if r.storage_id == local.storage_id]
        try:
            m = await asyncio.wait_for(
                asyncio.to_thread(_measure, local, self.host, mine), self.measure_timeout
            )
        except (OSError, CorruptStoreMeta) as exc:
            return await self._report_error(local, str(exc))
        except TimeoutError:
            return await self._report_error(
                local, f"{local.local_path} did not answer within {self.measure_timeout:.0f} s"
            )

        report = (local.storage_id, self.host, m.capacity, m.fs_available, m.used, m.fs_id)

        async def work(tx: Tx) -> dict[str, int] | None:
            for rid, written in m.on_disk.items():
                await tx.exec(
                    "UPDATE storage_reservations SET on_disk = $2 WHERE id = $1", rid, written
                )
            row = await tx.query_row(REPORT, *report)
            await tx.commit()
            return row

        # Files being written: their bytes on disk and the report commit together. Otherwise
        # the report alone, one autocommit statement (an idle node's usual beat).
        if m.on_disk:
            row = await self.db.transaction(work)
        else:
            row = await self.db.query_row(REPORT, *report)
        reserved, available = (row["reserved"], row["available"]) if row else (0, 0)
        return PathHealth(
            local.storage_id,
            local.local_path,
            None,
            m.capacity,
            m.fs_available,
            m.used,
            reserved,
            available,
        )

    async def _report_error(self, local: LocalPath, error: str) -> PathHealth:
        log.warning("storage path %s on %s: %s", local.storage_id, self.host, error)

        async def work(tx: Tx) -> None:
            await tx.exec(
                "UPDATE storage_path_hosts SET last_heartbeat = now(), heartbeat_err = $3 "
                "WHERE storage_id = $1 AND hostname = $2",
                local.storage_id,
                self.host,
                error,
            )
            # The path itself is in error only if no host sees it healthy right now.
            await tx.exec(
                "UPDATE storage_path SET last_heartbeat = now(), heartbeat_err = CASE WHEN "
                "EXISTS (SELECT 1 FROM storage_path_hosts h WHERE h.storage_id = $1 "
                "AND h.heartbeat_err IS NULL "
                "AND h.last_heartbeat > now() - make_interval(secs => $3)) "
                "THEN NULL ELSE $2 END WHERE storage_id = $1",
                local.storage_id,
                f"{self.host}: {error}",
                STALE_AFTER,
            )
            await tx.commit()

        await self.db.transaction(work)
        return PathHealth(local.storage_id, local.local_path, error)
