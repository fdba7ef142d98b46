"""Pane 4: storage paths as ``storage list`` shows them: usage bars (``#`` used, ``*`` reserved),
yellow above 90 %, red above 98 %; use flags, weight, groups, type filters, health, sector
counts by file type."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable

from engine.snapshot import ClusterSnapshot
from engine.storage import SectorFileType, StoragePathInfo, format_types, size_str
from engine.storage.paths import split_list

from ..widgets.cells import Styles, bar, level_style, num, text
from ..widgets.keyed_table import Column, KeyedTable
from .base import Pane, PaneHeader

__all__ = ["StoragePane", "health_cell", "path_cells"]

COLUMNS = (
    Column("Path", "id", 8),
    Column("Usage", "usage", 19),
    Column("Health", "health", 12),
    Column("Use", "use", 12),
    Column("W", "weight", 3, right=True),
    Column("Used/Capacity", "size", 19),
    Column("Sectors U/S/C", "counts", 13),
    Column("Groups", "groups", 10),
    Column("Types", "types", 16),
    Column("Hosts", "hosts"),
)

EMPTY = "no storage paths attached: `harmony storage attach PATH --seal` (or --store)"


def health_cell(info: StoragePathInfo, styles: Styles) -> Text:
    """Curio's health: OK / Stale (age) / Error (with the heartbeat error in the detail)."""
    p = info.path
    if p.heartbeat_err is not None:
        return text("Error", styles.crit)
    if info.heartbeat_age is None:
        return text("no heartbeat", styles.warn)
    if not info.healthy:
        return text(f"Stale {info.heartbeat_age:.0f}s", styles.warn)
    return text(f"OK {info.heartbeat_age:.0f}s", styles.ok)


def type_filters(info: StoragePathInfo) -> str:
    p = info.path
    if not (p.allow_types or p.deny_types):
        return "any"
    allowed = p.allowed_types
    denied = SectorFileType.all() & ~allowed
    if not allowed:
        return "none"
    if len(list(allowed.bits())) <= len(list(denied.bits())):
        return "+" + format_types(allowed, ",+")
    return "-" + format_types(denied, ",-")


def path_cells(info: StoragePathInfo, styles: Styles) -> tuple[Text, ...]:
    p = info.path
    if p.capacity > 0:
        on_disk = max(p.capacity - p.fs_available, 0)
        used = on_disk / p.capacity
        reserved = info.live_reserved / p.capacity
        usage = bar(used, 12, styles, reserved=reserved, suffix=f"{used * 100:4.0f}%")
        size = text(f"{size_str(on_disk)}/{size_str(p.capacity)}", level_style(styles, used))
    else:
        usage = Text("(no heartbeat yet)", style="dim")
        size = text("-", "dim")
    c = info.counts
    counts = (
        f"{c.get(SectorFileType.UNSEALED, 0)}/{c.get(SectorFileType.SEALED, 0)}/"
        f"{c.get(SectorFileType.CACHE, 0)}"
    )
    hosts = ", ".join(f"{h.host}:{h.local_path}" for h in info.hosts) or "-"
    return (
        text(info.storage_id[:8], styles.bold),
        usage,
        health_cell(info, styles),
        text(info.use, "" if p.can_seal or p.can_store else "dim"),
        num(p.weight),
        size,
        text(counts),
        text(", ".join(split_list(p.groups)) or "-", "" if p.groups else "dim"),
        text(type_filters(info)),
        text(hosts, "dim"),
    )


class StoragePane(Pane):
    """Every storage path in the cluster, largest first."""

    SECTION = "storage"

    def compose(self) -> ComposeResult:
        yield PaneHeader(self.WAITING, id="storage-header")
        yield KeyedTable(COLUMNS, id="storage-table")

    @property
    def filter_table(self) -> KeyedTable:
        return self.query_one("#storage-table", KeyedTable)

    def render_snapshot(self, snap: ClusterSnapshot) -> None:
        styles = self.palette
        s = snap.storage
        header = self.query_one("#storage-header", PaneHeader)
        if not s.paths:
            header.update(Text(EMPTY))
            self.filter_table.sync({})
            return
        errors = sum(1 for p in s.paths if p.path.heartbeat_err is not None)
        ok = sum(1 for p in s.paths if p.healthy)
        stale = len(s.paths) - ok - errors
        line = Text()
        line.append(f"{len(s.paths)} paths: ", style=styles.bold)
        line.append(f"{ok} OK", style=styles.ok if ok else "")
        line.append(", ")
        line.append(f"{stale} stale", style=styles.warn if stale else "")
        line.append(", ")
        line.append(f"{errors} error", style=styles.crit if errors else "")
        if s.capacity:
            pct = s.used * 100 / s.capacity
            line.append(f"; {size_str(s.used)} of {size_str(s.capacity)} used ")
            line.append(f"({pct:.0f}%)", style=level_style(styles, pct / 100))
            line.append(f", {size_str(s.reserved)} reserved")
        for info in [p for p in s.paths if p.path.heartbeat_err is not None][:2]:
            line.append(f"; {info.storage_id[:8]}: ", style=styles.crit)
            line.append(info.path.heartbeat_err or "")
        rows = {}
        for info in s.paths:
            cells = path_cells(info, styles)
            if self.matches(*cells, info.storage_id):
                rows[info.storage_id] = cells
        line.append(self.filter_note(len(rows), len(s.paths)))
        header.update(line)
        self.filter_table.sync(rows)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.DetailRequested("storage", event.row_key.value))
