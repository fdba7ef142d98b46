"""Choosing a storage path for a new file (Curio ``StorageBestAlloc``).

A path qualifies when its heartbeat is fresh (< 50 s) and error-free, it has the space, its use
flags fit (sealing -> ``can_seal``, long-term -> ``can_store``), its type and miner filters let
the file in, for moves it is in a group the source allows (Lotus ``AllowTo``) and, where the
placing machine is confined to some groups (``harmony run --store-groups``), in one of those.
Qualifying paths are ordered by ``free x weight``, as Curio orders by ``available * weight``.

Two things differ from Curio, both for the "clear, visible condition, not a hang" rule: free
space counts every live reservation at the moment of choosing (not the last heartbeat's
snapshot), and a refusal says why each path was passed over.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import NoSuitablePath
from .filetypes import SectorFileType, parse_types
from .hosts import this_host
from .paths import split_list
from .units import size_str

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx

__all__ = [
    "OUTSIDE_GROUPS",
    "STALE_AFTER",
    "PathCandidate",
    "PathState",
    "Ranking",
    "best_path",
    "load_path_states",
    "miner_matches",
    "rank",
]

STALE_AFTER = 50.0
"""Seconds without a heartbeat after which a path is skipped (Curio: 5 x 10 s)."""

OUTSIDE_GROUPS = "is outside this machine's store groups"
"""The start of the reason a path outside the placing machine's ``--store-groups`` is refused."""


@dataclass(frozen=True)
class PathState:
    """What placement needs to know about one path, as seen from one host, right now."""

    storage_id: str
    weight: int
    max_storage: int
    can_seal: bool
    can_store: bool
    groups: str
    allow_types: str
    deny_types: str
    allow_miners: str
    deny_miners: str
    fs_available: int
    used: int
    live_reserved: int
    age: float | None
    heartbeat_err: str | None
    local_path: str | None
    host_age: float | None
    host_err: str | None
    #: groups this path's files may be moved to (empty = anywhere)
    allow_to: str = ""

    @property
    def free(self) -> int:
        """Bytes a new file may still take: the filesystem's free space (or what the limit
        leaves), minus every live reservation not yet written."""
        base = self.fs_available
        if self.max_storage > 0:
            base = min(base, self.max_storage - self.used)
        return base - self.live_reserved


@dataclass(frozen=True)
class PathCandidate:
    """A path that can take the file: where, and how much room it had when chosen."""

    storage_id: str
    local_path: Path | None
    weight: int
    free: int


@dataclass
class Ranking:
    """Qualifying paths, best first, and how many paths were passed over for which reason."""

    candidates: list[PathCandidate]
    rejections: Counter[tuple[str, str]] = field(default_factory=Counter)
    most_free: int | None = None

    def refusal(self, what: str) -> NoSuitablePath:
        """The error for "nothing qualifies", e.g. ``no storage path can take a 2 KiB sealed
        file: 1 path is seal-only, 1 denies sealed``."""
        if not self.rejections:
            return NoSuitablePath(f"no storage path can take {what}: no storage paths are attached")
        parts = []
        for (one, many), n in sorted(self.rejections.items(), key=lambda kv: (-kv[1], kv[0])):
            noun = ("path " if n == 1 else "paths ") if not parts else ""
            parts.append(f"{n} {noun}{one if n == 1 else many}")
        detail = ", ".join(parts)
        if self.most_free is not None:
            detail += f" (most free: {size_str(max(self.most_free, 0))})"
        counts = {one: n for (one, _), n in self.rejections.items()}
        return NoSuitablePath(f"no storage path can take {what}: {detail}", counts)


async def load_path_states(db: DB | Tx, host: str | None = None) -> list[PathState]:
    """Every path with its live reservations and this host's view of it.

    Ages are computed by the database clock, the one clock every machine shares.
    """
    return await db.select(
        "SELECT p.storage_id, p.weight, p.max_storage, p.can_seal, p.can_store, p.groups, "
        "p.allow_types, p.deny_types, p.allow_miners, p.deny_miners, p.fs_available, p.used, "
        "COALESCE((SELECT sum(GREATEST(r.bytes - r.on_disk, 0)) "
        "  FROM storage_reservations_live r WHERE r.storage_id = p.storage_id), 0)::bigint "
        "  AS live_reserved, "
        "EXTRACT(EPOCH FROM now() - p.last_heartbeat)::float8 AS age, p.heartbeat_err, "
        "h.local_path, EXTRACT(EPOCH FROM now() - h.last_heartbeat)::float8 AS host_age, "
        "h.heartbeat_err AS host_err, p.allow_to "
        "FROM storage_path p "
        "LEFT JOIN storage_path_hosts h ON h.storage_id = p.storage_id AND h.hostname = $1 "
        "ORDER BY p.storage_id",
        host or this_host(),
        into=PathState,
    )


def miner_matches(entries: list[str], miner: int) -> bool:
    """Whether ``t01000``/``f01000``/``1000`` style entries name ``miner``."""
    for entry in entries:
        digits = entry.strip().lower()
        if digits[:2] in ("t0", "f0"):
            digits = digits[2:]
        if digits.isdigit() and int(digits) == miner:
            return True
    return False


def _plural(one: str) -> str:
    first, _, rest = one.partition(" ")
    verb = {"is": "are", "has": "have", "does": "do", "denies": "deny", "lacks": "lack"}
    return f"{verb.get(first, first)} {rest}".strip()


def rank(
    states: list[PathState],
    file_type: SectorFileType,
    needed: int,
    *,
    seal: bool,
    miner: int | None = None,
    host: str | None = None,
    need_local: bool = True,
    allow_to: list[str] | None = None,
    exclude: frozenset[str] | set[str] = frozenset(),
    pending: dict[str, int] | None = None,
    groups: Sequence[str] = (),
) -> Ranking:
    """Sort ``states`` into qualifying candidates (best first) and counted rejections.

    Args:
        needed: bytes the file needs.
        seal: the file is for sealing (``can_seal`` paths) rather than long-term storage.
        need_local: only paths attached on ``host`` qualify (the caller writes the file).
        allow_to: the source path's ``allow_to`` groups when moving; empty = anywhere.
        exclude: storage IDs not to consider (e.g. the source of a move).
        pending: bytes already promised to each path by the caller's earlier choices.
        groups: the placing machine's groups (``--store-groups``): only paths in one of them
            qualify; empty = any. Applies beside ``allow_to``: a path must pass both.
    """
    host = host or this_host()
    name = str(file_type)
    ranking = Ranking([])
    pending = pending or {}

    def reject(one: str) -> None:
        ranking.rejections[(one, _plural(one))] += 1

    for s in states:
        if s.storage_id in exclude:
            continue
        if need_local and s.local_path is None:
            reject(f"is not attached on {host}")
            continue
        age, err = (s.host_age, s.host_err) if need_local else (s.age, s.heartbeat_err)
        if err is not None:
            reject("has a heartbeat error")
            continue
        if age is None:
            reject("has never reported a heartbeat")
            continue
        if age >= STALE_AFTER:
            reject(f"is stale (no heartbeat for {STALE_AFTER:.0f} s)")
            continue
        if seal and not s.can_seal:
            reject("is store-only" if s.can_store else "is read-only")
            continue
        if not seal and not s.can_store:
            reject("is seal-only" if s.can_seal else "is read-only")
            continue
        if s.weight <= 0:
            reject("has weight 0")
            continue
        if s.deny_types and file_type & parse_types(s.deny_types):
            reject(f"denies {name}")
            continue
        if s.allow_types and not file_type & parse_types(s.allow_types):
            reject(f"does not allow {name}")
            continue
        if miner is not None:
            if s.allow_miners and not miner_matches(split_list(s.allow_miners), miner):
                reject(f"does not take miner t0{miner}")
                continue
            if s.deny_miners and miner_matches(split_list(s.deny_miners), miner):
                reject(f"denies miner t0{miner}")
                continue
        if allow_to and not set(allow_to) & set(split_list(s.groups)):
            reject(f"is outside the groups the source allows ({', '.join(allow_to)})")
            continue
        if groups and not set(groups) & set(split_list(s.groups)):
            reject(f"{OUTSIDE_GROUPS} ({', '.join(groups)})")
            continue
        free = s.free - pending.get(s.storage_id, 0)
        if free < needed:
            reject("lacks space")
            ranking.most_free = free if ranking.most_free is None else max(ranking.most_free, free)
            continue
        local = Path(s.local_path) if s.local_path is not None else None
        ranking.candidates.append(PathCandidate(s.storage_id, local, s.weight, free))
    ranking.candidates.sort(key=lambda c: (-c.free * c.weight, c.storage_id))
    return ranking


async def best_path(
    db: DB | Tx,
    file_type: SectorFileType,
    needed: int,
    *,
    seal: bool,
    miner: int | None = None,
    host: str | None = None,
    need_local: bool = True,
    allow_to: list[str] | None = None,
    exclude: frozenset[str] | set[str] = frozenset(),
    groups: Sequence[str] = (),
) -> PathCandidate:
    """The best path for a new ``file_type`` file of ``needed`` bytes (see :func:`rank`).

    Raises:
        NoSuitablePath: nothing qualifies; the message counts the paths per reason.
    """
    host = host or this_host()
    states = await load_path_states(db, host)
    ranking = rank(
        states,
        file_type,
        needed,
        seal=seal,
        miner=miner,
        host=host,
        need_local=need_local,
        allow_to=allow_to,
        exclude=exclude,
        groups=groups,
    )
    if not ranking.candidates:
        raise ranking.refusal(f"a {size_str(needed)} {file_type} file")
    return ranking.candidates[0]
