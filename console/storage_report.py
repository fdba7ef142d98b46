"""One storage path as text, in the layout of ``lotus-miner storage list``.

Shared by ``harmony storage list`` and the console's storage path detail view, so both say the
same thing the same way; on our clusters and on Curio's (whose paths carry their nodes' URLs
and no per-host rows).
"""

from __future__ import annotations

from engine.storage import SectorFileType, StoragePathInfo, format_types, size_str
from engine.storage.paths import split_list

__all__ = ["BAR_COLUMNS", "render_path"]

BAR_COLUMNS = 50


def _bar(parts: list[tuple[str, int]], total: int) -> str:
    """``[###**    ]``: each part as a share of ``total`` in BAR_COLUMNS columns."""
    out, used = "", 0
    for char, amount in parts:
        cols = min(max(amount, 0) * BAR_COLUMNS // total, BAR_COLUMNS - used) if total else 0
        out += char * cols
        used += cols
    return f"[{out}{' ' * (BAR_COLUMNS - used)}]"


def render_path(info: StoragePathInfo) -> str:
    """One path in the layout of ``lotus-miner storage list`` (and Curio's), so operators who
    know those tools read it at a glance and scripts written for them keep working.

    Bars show '#' for bytes on disk, '*' for reservations not yet written, ' ' for free.
    """
    p = info.path
    reserved = info.live_reserved
    lines = [f"{p.storage_id}:"]
    if p.capacity > 0:
        on_disk = p.capacity - p.fs_available
        suffix = " (filesystem)" if p.max_storage > 0 else ""
        lines.append(
            f"\t{_bar([('#', on_disk), ('*', reserved)], p.capacity)} "
            f"{size_str(on_disk)}/{size_str(p.capacity)} {on_disk * 100 // p.capacity}%{suffix}"
        )
    else:
        lines.append("\t(capacity unknown: no heartbeat yet)")
    if p.max_storage > 0:
        lines.append(
            f"\t{_bar([('#', p.used), ('*', reserved)], p.max_storage)} "
            f"{size_str(p.used)}/{size_str(p.max_storage)} "
            f"{p.used * 100 // p.max_storage}% (limit)"
        )
    c = info.counts
    lines.append(
        f"\tUnsealed: {c.get(SectorFileType.UNSEALED, 0)}; "
        f"Sealed: {c.get(SectorFileType.SEALED, 0)}; "
        f"Caches: {c.get(SectorFileType.CACHE, 0)}; "
        f"Updated: {c.get(SectorFileType.UPDATE, 0)}; "
        f"Update-caches: {c.get(SectorFileType.UPDATE_CACHE, 0)}; "
        f"Reserved: {size_str(reserved)}"
    )
    if p.can_seal or p.can_store:
        use = " ".join(name for name, on in (("Seal", p.can_seal), ("Store", p.can_store)) if on)
        lines.append(f"\tWeight: {p.weight}; Use: {use}")
    else:
        lines.append("\tUse: ReadOnly")
    lines.append(f"\tHealth: {info.health}")
    if p.groups:
        lines.append(f"\tGroups: {', '.join(split_list(p.groups))}")
    if p.allow_to:
        lines.append(f"\tAllowTo: {', '.join(split_list(p.allow_to))}")
    if p.allow_types or p.deny_types:
        allowed = p.allowed_types
        denied = SectorFileType.all() & ~allowed
        if not allowed:
            lines.append("\tAllow Types: None")
        elif len(list(allowed.bits())) < len(list(denied.bits())):
            lines.append(f"\tAllow Types: {format_types(allowed, ' ')}")
        else:
            lines.append(f"\tDeny Types:  {format_types(denied, ' ')}")
    if info.local_path is not None:
        lines.append(f"\tLocal: {info.local_path}")
    for host in info.hosts:
        lines.append(f"\tURL: {host.url} ({host.health})")
    if not info.hosts:
        # A Curio cluster's path: no per-host rows, its nodes' endpoints are the path's URLs.
        for url in split_list(p.urls):
            lines.append(f"\tURL: {url}")
    return "\n".join(lines)
