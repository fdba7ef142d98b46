"""A snapshot of every storage path for ``storage list`` and the console's storage pane.

One query per table, typed rows out: the CLI and the console render these dataclasses and never
hold SQL, so a schema change touches this module only and both views show the same figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .filetypes import SectorFileType
from .hosts import host_url, this_host
from .paths import StoragePathRow, split_list
from .placement import STALE_AFTER

if TYPE_CHECKING:
    from engine.harmonydb import DB

__all__ = ["HostView", "StoragePathInfo", "health_text", "list_paths"]


@dataclass(frozen=True)
class HostView:
    """One host's attachment of a path and what its last heartbeat said."""

    host: str
    local_path: Path
    url: str
    heartbeat_age: float | None
    heartbeat_err: str | None

    @property
    def health(self) -> str:
        return health_text(self.heartbeat_err, self.heartbeat_age)


@dataclass(frozen=True)
class StoragePathInfo:
    """A storage path with its counts, hosts and health.

    Attributes:
        counts: declared sector files per type.
        local_path: the directory on the asking host, or None if not attached there.
        heartbeat_age: seconds since the last heartbeat from any host (None = never).
        live_reserved: reservations counting right now (``path.reserved`` is the last
            heartbeat's figure).
    """

    path: StoragePathRow
    counts: dict[SectorFileType, int]
    hosts: list[HostView]
    local_path: Path | None
    heartbeat_age: float | None
    live_reserved: int = 0
    moves_in_progress: int = 0

    @property
    def storage_id(self) -> str:
        return self.path.storage_id

    @property
    def health(self) -> str:
        """Curio's GUI rule: "Error: ..." / "Stale (Xs ago)" / "OK (Xs ago)"."""
        return health_text(self.path.heartbeat_err, self.heartbeat_age)

    @property
    def healthy(self) -> bool:
        return (
            self.path.heartbeat_err is None
            and self.heartbeat_age is not None
            and self.heartbeat_age < STALE_AFTER
        )

    @property
    def use(self) -> str:
        """Curio's type label: "Seal + Store", "Seal", "Store" or "Read-Only"."""
        p = self.path
        if p.can_seal and p.can_store:
            return "Seal + Store"
        return "Seal" if p.can_seal else "Store" if p.can_store else "Read-Only"

    def to_json(self) -> dict[str, Any]:
        p = asdict(self.path)
        for key in (
            "groups",
            "allow_to",
            "allow_types",
            "deny_types",
            "allow_miners",
            "deny_miners",
        ):
            p[key] = split_list(p[key])
        p["urls"] = split_list(p["urls"])
        return {
            **p,
            "use": self.use,
            "health": self.health,
            "healthy": self.healthy,
            "heartbeat_age": self.heartbeat_age,
            "live_reserved": self.live_reserved,
            "moves_in_progress": self.moves_in_progress,
            "local_path": str(self.local_path) if self.local_path else None,
            "counts": {str(ft): n for ft, n in self.counts.items()},
            "hosts": [
                {
                    "host": h.host,
                    "local_path": str(h.local_path),
                    "url": h.url,
                    "health": h.health,
                    "heartbeat_age": h.heartbeat_age,
                    "heartbeat_err": h.heartbeat_err,
                }
                for h in self.hosts
            ],
        }


def health_text(error: str | None, age: float | None) -> str:
    if error is not None:
        return f"Error: {error}"
    if age is None:
        return "No heartbeat yet"
    if age >= STALE_AFTER:
        return f"Stale ({age:.0f}s ago)"
    return f"OK ({age:.0f}s ago)"


async def list_paths(db: DB, host: str | None = None) -> list[StoragePathInfo]:
    """Every storage path, by capacity descending then ID (``storage list``'s order)."""
    host = host or this_host()
    paths = await db.select(
        "SELECT storage_id, urls, weight, max_storage, can_seal, can_store, groups, allow_to, "
        "allow_types, deny_types, allow_miners, deny_miners, capacity, available, fs_available, "
        "reserved, used, last_heartbeat, heartbeat_err FROM storage_path "
        "ORDER BY capacity DESC, storage_id",
        into=StoragePathRow,
    )
    ages = {
        r["storage_id"]: r["age"]
        for r in await db.select(
            "SELECT storage_id, EXTRACT(EPOCH FROM now() - last_heartbeat)::float8 AS age "
            "FROM storage_path"
        )
    }
    counts: dict[str, dict[SectorFileType, int]] = {}
    for r in await db.select(
        "SELECT storage_id, sector_filetype, count(*) AS n FROM sector_location "
        "GROUP BY storage_id, sector_filetype"
    ):
        counts.setdefault(r["storage_id"], {})[SectorFileType(r["sector_filetype"])] = r["n"]
    hosts: dict[str, list[HostView]] = {}
    for r in await db.select(
        "SELECT storage_id, hostname, local_path, heartbeat_err, "
        "EXTRACT(EPOCH FROM now() - last_heartbeat)::float8 AS age "
        "FROM storage_path_hosts ORDER BY hostname"
    ):
        hosts.setdefault(r["storage_id"], []).append(host_view(r))
    reserved = {
        r["storage_id"]: r["n"]
        for r in await db.select(
            "SELECT storage_id, sum(GREATEST(bytes - on_disk, 0))::bigint AS n "
            "FROM storage_reservations_live GROUP BY storage_id"
        )
    }
    moves = {
        r["storage_id"]: r["n"]
        for r in await db.select(
            "SELECT dst_storage_id AS storage_id, count(*) AS n FROM storage_moves "
            "WHERE state = 'copying' GROUP BY dst_storage_id"
        )
    }
    return assemble(
        [(p, ages.get(p.storage_id)) for p in paths], hosts, counts, reserved, moves, host
    )


def host_view(row: Mapping[str, Any]) -> HostView:
    """A ``storage_path_hosts`` row (with its heartbeat ``age`` in seconds) as a HostView."""
    return HostView(
        row["hostname"],
        Path(row["local_path"]),
        host_url(row["hostname"], row["local_path"]),
        row["age"],
        row["heartbeat_err"],
    )


def assemble(
    paths: list[tuple[StoragePathRow, float | None]],
    hosts: dict[str, list[HostView]],
    counts: dict[str, dict[SectorFileType, int]],
    reserved: dict[str, int],
    moves: dict[str, int],
    host: str | None,
) -> list[StoragePathInfo]:
    """One StoragePathInfo per (path, heartbeat age), from the per-path figures read apart;
    ``host`` (if any) decides which host's directory is the ``local_path``."""
    infos = []
    for path, age in paths:
        views = hosts.get(path.storage_id, [])
        local = next((h.local_path for h in views if host is not None and h.host == host), None)
        infos.append(
            StoragePathInfo(
                path=path,
                counts={
                    ft: counts.get(path.storage_id, {}).get(ft, 0)
                    for ft in SectorFileType.all().bits()
                },
                hosts=views,
                local_path=local,
                heartbeat_age=age,
                live_reserved=reserved.get(path.storage_id, 0),
                moves_in_progress=moves.get(path.storage_id, 0),
            )
        )
    return infos
