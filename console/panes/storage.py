"""Pane 4: storage paths as ``storage list`` shows them: use flags, weight, groups (and, after
``→``, the groups its sectors may move to: Lotus ``AllowTo``), type filters,
health, sector counts by file type; and usage bars of the filesystem each path lies on, yellow
above 90 %, red above 98 %: ``#`` harmony's sector files on the path, ``+`` the rest of the
filesystem's data (other paths on the disk, anything else), ``*`` reserved, space free.

The header's totals count each filesystem once (two paths on one disk are one disk's bytes);
its figures wrap between clauses, never inside one ("0 B" / "reserved")."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable

from engine.snapshot import ClusterSnapshot, StorageSnap
from engine.storage import SectorFileType, StoragePathInfo, format_types, size_str
from engine.storage.paths import split_list

from ..widgets.cells import Styles, level_style, num, text
from ..widgets.clauses import join_clauses
from ..widgets.keyed_table import Column, KeyedTable
from .base import Pane, PaneHeader

__all__ = ["StoragePane", "groups_cell", "health_cell", "path_cells", "usage_bar"]

#: columns of the usage bar between its brackets
BAR_WIDTH = 12

COLUMNS = (
    # Left to right by what an operator reads first: at 80 columns every figure through
    # Harmony's own bytes is visible, and they fill the width exactly (Use's first letters
    # peeked in cut; sizes take up to ten characters a side: ``1023.5 GiB``).
    Column("Path", "id", 8),
    Column("Usage", "usage", 19),
    Column("Used/Capacity", "size", 21),
    Column("Health", "health", 12),
    Column("Harmony", "harmony", 10, right=True),
    Column("Use", "use", 12),
    Column("W", "weight", 3, right=True),
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


def groups_cell(info: StoragePathInfo) -> Text:
    """``rack-a``, ``seal →rack-a,cold`` (its groups, then where its sectors may move), ``-``."""
    p = info.path
    groups, allow_to = split_list(p.groups), split_list(p.allow_to)
    if not (groups or allow_to):
        return text("-", "dim")
    out = text(", ".join(groups) or "-", "" if groups else "dim")
    if allow_to:
        out.append(" →" + ",".join(allow_to))
    return out


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


def usage_bar(info: StoragePathInfo, harmony: int | None, styles: Styles) -> Text:
    """``[##++**      ]  69%``: the filesystem's use, harmony's sector files (``#``) first, the
    rest of its data (``+``), then reservations not yet written (``*``)."""
    p = info.path
    on_disk = max(p.capacity - p.fs_available, 0)
    used = on_disk / p.capacity
    mine = min(harmony or 0, on_disk) / p.capacity
    reserved = min(info.live_reserved / p.capacity, 1.0 - used)
    used_cols = int(used * BAR_WIDTH)
    mine_cols = min(round(mine * BAR_WIDTH), used_cols)
    if harmony and not mine_cols and used_cols:
        mine_cols = 1  # a little is not nothing
    reserved_cols = min(round(reserved * BAR_WIDTH), BAR_WIDTH - used_cols)
    style = level_style(styles, used + reserved)
    out = Text("[", no_wrap=True)
    out.append("#" * mine_cols, style=style)
    out.append("+" * (used_cols - mine_cols), style=Style.combine([style, Style(dim=True)]))
    out.append("*" * reserved_cols, style=styles.warn)
    out.append(" " * (BAR_WIDTH - used_cols - reserved_cols))
    out.append("]")
    out.append(f"{used * 100:4.0f}%", style=style)
    return out


def path_cells(
    info: StoragePathInfo, styles: Styles, harmony: int | None = None
) -> tuple[Text, ...]:
    """One path's row; ``harmony`` is its sector files' bytes (None: not known)."""
    p = info.path
    if p.capacity > 0:
        on_disk = max(p.capacity - p.fs_available, 0)
        usage = usage_bar(info, harmony, styles)
        size = text(
            f"{size_str(on_disk)}/{size_str(p.capacity)}", level_style(styles, on_disk / p.capacity)
        )
    else:
        usage = Text("(no heartbeat yet)", style="dim")
        size = text("-", "dim")
    mine = Text(size_str(harmony), justify="right", no_wrap=True) if harmony is not None else None
    c = info.counts
    counts = (
        f"{c.get(SectorFileType.UNSEALED, 0)}/{c.get(SectorFileType.SEALED, 0)}/"
        f"{c.get(SectorFileType.CACHE, 0)}"
    )
    hosts = ", ".join(f"{h.host}:{h.local_path}" for h in info.hosts) or "-"
    return (
        text(info.storage_id[:8], styles.bold),
        usage,
        size,
        health_cell(info, styles),
        mine if mine is not None else num(None),
        text(info.use, "" if p.can_seal or p.can_store else "dim"),
        num(p.weight),
        text(counts),
        groups_cell(info),
        text(type_filters(info)),
        text(hosts, "dim"),
    )


def totals(s: StorageSnap, styles: Styles) -> list[Text]:
    """The header's figures, one clause each: every filesystem counted once, harmony's own
    sector bytes beside their use, and the reservations not yet written."""
    if not s.capacity:
        return []
    fs = len(s.filesystems)
    pct = s.used * 100 / s.capacity
    use = Text(f"{fs} filesystem{'s' if fs != 1 else ''}: ")
    use.append(f"{size_str(s.used)} of {size_str(s.capacity)} used ")
    use.append(f"({pct:.0f}%)", style=level_style(styles, pct / 100))
    out = [use]
    if s.harmony_bytes is not None:
        out.append(Text(f"harmony {size_str(s.harmony_bytes)}"))
    out.append(Text(f"{size_str(s.reserved)} reserved"))
    return out


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
        health = Text()
        health.append(f"{len(s.paths)} paths: ", style=styles.bold)
        health.append(f"{ok} OK", style=styles.ok if ok else "")
        health.append(", ")
        health.append(f"{stale} stale", style=styles.warn if stale else "")
        health.append(", ")
        health.append(f"{errors} error", style=styles.crit if errors else "")
        clauses = [health, *totals(s, styles)]
        for info in [p for p in s.paths if p.path.heartbeat_err is not None][:2]:
            clause = Text(f"{info.storage_id[:8]}: ", style=styles.crit)
            clause.append(info.path.heartbeat_err or "")
            clauses.append(clause)
        rows = {}
        for info in s.paths:
            cells = path_cells(info, styles, s.sector_bytes(info))
            if self.matches(*cells, info.storage_id):
                rows[info.storage_id] = cells
        line = join_clauses(clauses, header.line_width)
        line.append(self.filter_note(len(rows), len(s.paths)))
        header.update(line)
        self.filter_table.sync(rows)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.DetailRequested("storage", event.row_key.value))
