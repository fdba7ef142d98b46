"""The filesystems under the storage paths: what the cluster's storage totals count.

Two storage paths can be directories of one disk (a seal path and a store path side by side,
or two store paths on one array). Their heartbeats report the same capacity and free space, so
adding them path by path counts that disk twice ("345.6 GiB of 503.9 GiB" for two paths on one
252 G disk). Each host's heartbeat records the filesystem a path lies on (``fs_id``: its
``st_dev`` there); paths that share a filesystem on any host are one filesystem, counted once.
A path whose filesystem is not known (no heartbeat since the upgrade; Curio, which records none)
is its own filesystem: counted as ``storage list`` shows it, never merged by guesswork.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from engine.storage import StoragePathInfo

__all__ = ["FilesystemSnap", "group_filesystems"]


@dataclass(frozen=True, eq=False)
class FilesystemSnap:
    """One filesystem and the storage paths on it (largest path first)."""

    storage_ids: tuple[str, ...]
    capacity: int
    #: the filesystem's bytes in use, by anything (capacity less free space)
    used: int
    #: reservations not yet written, on all its paths
    reserved: int
    #: bytes of harmony's sector files on its paths; None when no path's figure is known
    sector_bytes: int | None


def group_filesystems(
    paths: Iterable[StoragePathInfo],
    fs_keys: Mapping[str, Iterable[str]],
    sector_bytes: Mapping[str, int | None],
) -> tuple[FilesystemSnap, ...]:
    """Group ``paths`` by filesystem: two paths share one when they share any key of
    ``fs_keys`` (``"host:fs_id"``, one per host that reported the path); a path with no key is
    alone. The filesystem's size and use are those of its freshest-measured largest path."""
    ordered = list(paths)
    parent = list(range(len(ordered)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, info in enumerate(ordered):
        for key in fs_keys.get(info.storage_id, ()):
            j = first.setdefault(key, i)
            parent[root(i)] = root(j)
    groups: dict[int, list[StoragePathInfo]] = {}
    for i, info in enumerate(ordered):
        groups.setdefault(root(i), []).append(info)
    out = []
    for members in groups.values():
        measured = [m for m in members if m.path.capacity > 0] or members
        main = min(measured, key=lambda m: (m.heartbeat_age is None, m.heartbeat_age or 0.0))
        known = [sector_bytes.get(m.storage_id) for m in members]
        out.append(
            FilesystemSnap(
                storage_ids=tuple(m.storage_id for m in members),
                capacity=main.path.capacity,
                used=max(main.path.capacity - main.path.fs_available, 0),
                reserved=sum(m.live_reserved for m in members),
                sector_bytes=(
                    sum(b for b in known if b is not None)
                    if any(b is not None for b in known)
                    else None
                ),
            )
        )
    return tuple(out)
