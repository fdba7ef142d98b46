"""Pane 3: the sealing pipeline: Curio's summary buckets, a stage strip per sector, and the
failed or stuck sectors, oldest first (view ``i``, in flight); and the sealing history (view
``h``): finished sectors, newest first, with each stage's time, searched by sector number in the
database with ``/``.

From 160 columns (the screen's ``-wide`` class, console.tcss) the in-flight view puts the
pipeline and the problems side by side, each with the full height; at 80x24 they stack."""

from __future__ import annotations

import functools
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.reactive import var
from textual.widgets import ContentSwitcher, DataTable, Static

from engine.snapshot import BUCKETS, ClusterSnapshot, SectorStrip, StripCell, duration
from engine.snapshot.format import took
from engine.snapshot.sealing_history import FinishedSector

from ..widgets.cells import Styles, age, ident, miner_address, num, text
from ..widgets.keyed_table import Column, KeyedTable
from .base import Pane, PaneHeader

__all__ = ["GLYPHS", "HISTORY_COLUMNS", "STAGE_CODES", "PipelinePane", "strip_text"]

#: One letter per stage, in strip order (the strip's column header).
STAGE_CODES = {
    "SDR": "S",
    "TreeD": "D",
    "TreeC": "C",
    "TreeR": "R",
    "Synthetic": "Y",
    "PComm Msg": "P",
    "PComm Wait": "p",
    "Wait Seed": "W",
    "PoRep": "O",
    "Clear Cache": "F",
    "Move Storage": "M",
    "Commit Msg": "K",
    "Commit Wait": "k",
}

#: One glyph per cell status, so the strip reads without colour too.
GLYPHS = {
    "done": "=",
    "running": ">",
    "queued": "~",
    "ready": "+",
    "batch": "b",
    "waiting": "w",
    "failed": "!",
    "none": ".",
}

LEGEND = "= done  > running  ~ queued  + no task  b batch  w chain  ! failed  . not yet"

SUMMARY_COLUMNS = (
    Column("Miner", "miner", 7),
    *(
        Column(label, key, 7, right=True)
        for label, key in zip(
            ("SDR", "Trees", "PreCmt", "Seed", "PoRep", "Commit"),
            ("sdr", "trees", "precommit", "seed", "porep", "commit"),
            strict=True,
        )
    ),
    Column("Done", "done", 6, right=True),
    Column("Failed", "failed", 6, right=True),
)

SECTOR_COLUMNS = (
    Column("Miner", "miner", 7),
    Column("Sector", "sector", 6, right=True),
    Column("Age", "age", 6, right=True),
    Column("Stage", "stage", 12),
    Column(" ".join(STAGE_CODES.values()), "strip", 25),
    Column("State", "state", 7),
)

#: The history's columns: the main line's stage times through Total fill 80 columns exactly;
#: Finalize and Move (run beside the commit), Synthetic (Curio's), the failed attempts and the
#: miner follow (all shown from 160 columns). Filled, not merely fitting: the next column's
#: first characters showed at the edge, and Finalize's ``73ms`` cut to ``73m`` read as an hour.
HISTORY_COLUMNS = (
    Column("Sector", "sector", 8, right=True),
    Column("Ended", "ended", 6, right=True),
    Column("SDR", "sdr", 6, right=True),
    Column("TreeD", "treed", 5, right=True),
    Column("TreeRC", "treerc", 6, right=True),
    Column("PreC", "precommit", 5, right=True),
    Column("Seed", "seed", 6, right=True),
    Column("PoRep", "porep", 6, right=True),
    Column("Commit", "commit", 6, right=True),
    Column("Total", "total", 6, right=True),
    Column("Final", "finalize", 5, right=True),
    Column("Move", "move", 5, right=True),
    Column("Synth", "synth", 5, right=True),
    Column("Fails", "failed", 5, right=True),
    Column("Miner", "miner", 7),
)

#: the stage (engine.snapshot.sealing_history.HISTORY_STAGES) of each time column
HISTORY_STAGE_COLUMNS = (
    "SDR",
    "TreeD",
    "TreeRC",
    "PreCommit",
    "Wait seed",
    "PoRep",
    "Commit",
)

VIEWS = {"flight": ("i", "in flight"), "history": ("h", "history")}

PROBLEM_COLUMNS = (
    Column("Miner", "miner", 7),
    Column("Sector", "sector", 6, right=True),
    Column("Kind", "kind", 6),
    Column("Stage", "stage", 12),
    Column("For", "age", 6, right=True),
    Column("Reason", "reason", 15),
    Column("Message", "message", fill=True),
)


def cell_style(styles: Styles, status: str) -> Style | str:
    return _status_styles(styles)[status]


@functools.lru_cache(maxsize=8)
def _status_styles(styles: Styles) -> dict[str, Style | str]:
    """Each status's style under one theme, combined once (a refresh draws thousands of cells
    and combining styles was most of the pane's render time)."""
    return {
        "done": styles.ok,
        "running": styles.info + Style(bold=True),
        "queued": "",
        # inputs ready, no task added yet: distinct from queued (which has a task row)
        "ready": styles.warn + Style(italic=True),
        "batch": styles.warn,
        "waiting": styles.accent,
        "failed": styles.crit,
        "none": "dim",
    }


def strip_text(cells: tuple[StripCell, ...], styles: Styles) -> Text:
    """A sector's strip: one glyph per stage. Strips repeat (most sectors of a batch are at the
    same place), so each distinct one is built once and copied."""
    return _strip(tuple(cell.status for cell in cells), styles).copy()


@functools.lru_cache(maxsize=1024)
def _strip(statuses: tuple[str, ...], styles: Styles) -> Text:
    out = Text(no_wrap=True)
    for i, status in enumerate(statuses):
        if i:
            out.append(" ")
        out.append(GLYPHS[status], style=cell_style(styles, status))
    return out


def state_text(sector: SectorStrip, styles: Styles) -> Text:
    if sector.state == "Failed":
        return text("Failed", styles.crit)
    if sector.stuck:
        return text("Stuck", styles.warn)
    return text(sector.state, styles.ok if sector.state == "Sealed" else "")


def stage_time(sector: FinishedSector, stage: str, styles: Styles) -> Text:
    """A stage's time in the history: dim dash when not recorded, warn when it took retries."""
    t = sector.stage(stage)
    if t.seconds is None:
        return Text("-", style="dim", justify="right")
    return Text(took(t.seconds), style=styles.warn if t.failed else "", justify="right")


class PipelinePane(Pane):
    """Sectors moving through SDR, trees, PreCommit, seed, PoRep and Commit, and those that
    finished."""

    SECTION = "pipeline"

    # SCOPED_CSS off: its wide layout hangs off the screen's -wide class
    SCOPED_CSS = False
    DEFAULT_CSS = """
    #pipeline-switcher, #pipeline-flight {
        height: 1fr;
    }
    /* stacked (under 160 columns): the strips get a row or two more than the problems */
    #pipeline-main {
        height: 3fr;
    }
    #pipeline-side {
        height: 2fr;
    }
    #pipeline-history {
        height: 1fr;
        min-height: 3;
    }
    Screen.-wide #pipeline-flight {
        layout: horizontal;
    }
    Screen.-wide #pipeline-main {
        width: 80;  /* the summary and every strip column */
        height: 1fr;
    }
    Screen.-wide #pipeline-side {
        width: 1fr;
        height: 1fr;
        border-left: vkey $foreground 20%;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("i", "view('flight')", "In flight", id="console.pipeline.flight"),
        Binding("h", "view('history')", "History", id="console.pipeline.history"),
    ]

    LISTS = frozenset({"sectors"})

    #: which view is shown: one of VIEWS
    view: var[str] = var("flight", init=False)

    def compose(self) -> ComposeResult:
        yield PaneHeader(self.WAITING, id="pipeline-header")
        yield Static(id="pipeline-views", classes="view-tabs")
        with ContentSwitcher(initial="pipeline-flight", id="pipeline-switcher"):
            with Vertical(id="pipeline-flight"):
                with Vertical(id="pipeline-main"):
                    yield KeyedTable(SUMMARY_COLUMNS, id="pipeline-summary")
                    yield Static(Text(LEGEND, style="dim"), id="pipeline-legend", classes="legend")
                    yield KeyedTable(SECTOR_COLUMNS, id="pipeline-sectors")
                with Vertical(id="pipeline-side"):
                    yield Static(
                        Text("failed or stuck, oldest first", style="bold"),
                        classes="section-title",
                    )
                    yield KeyedTable(PROBLEM_COLUMNS, id="pipeline-problems")
            yield KeyedTable(HISTORY_COLUMNS, id="pipeline-history")

    def on_mount(self) -> None:
        self._render_views()

    @property
    def filter_table(self) -> KeyedTable:
        if self.view == "history":
            return self.query_one("#pipeline-history", KeyedTable)
        return self.query_one("#pipeline-sectors", KeyedTable)

    def needs(self) -> Pane.Needs:
        # The history is searched in the database (by sector number), and read only while shown.
        if self.view == "history":
            return Pane.Needs(self, {"sealing_history"}, self.filter_text or None)
        return Pane.Needs(self, self.LISTS)

    # ------------------------------------------------------------------ views

    def action_view(self, view: str) -> None:
        if view in VIEWS:
            self.view = view

    def watch_view(self, view: str) -> None:
        switcher = self.query_one("#pipeline-switcher", ContentSwitcher)
        switcher.current = "pipeline-history" if view == "history" else "pipeline-flight"
        self._render_views()
        self.rerender()
        self.filter_table.focus()
        self.post_needs()

    def select(self, key: str, view: str | None = None) -> None:
        if view is not None:
            self.action_view(view)
        super().select(key)

    def _render_views(self) -> None:
        line = Text(no_wrap=True)
        for key, (shortcut, label) in VIEWS.items():
            line.append(
                f" {shortcut} {label} ", style="reverse bold" if key == self.view else "dim"
            )
            line.append(" ")
        self.query_one("#pipeline-views", Static).update(line)

    def watch_filter_text(self) -> None:
        if self.view == "history":
            self.post_needs()
        self.rerender()

    # ------------------------------------------------------------------ rendering

    def render_snapshot(self, snap: ClusterSnapshot) -> None:
        if self.view == "history":
            self._render_history(snap)
        else:
            self._render_flight(snap)

    def _render_flight(self, snap: ClusterSnapshot) -> None:
        styles = self.palette
        p = snap.pipeline
        header = self.query_one("#pipeline-header", PaneHeader)
        line = Text()
        if not p.summaries:
            header.update(
                "no sectors in the sealing pipeline: the workload adds them "
                "(`harmony` with the demo, or CC sectors on a miner)"
            )
            for table_id in ("#pipeline-summary", "#pipeline-sectors", "#pipeline-problems"):
                self.query_one(table_id, KeyedTable).sync({})
            return
        line.append("sectors: ", style=styles.bold)
        line.append(f"{p.in_progress:,} in progress, {p.done:,} done, ")
        line.append(f"{p.failed:,} failed", style=styles.crit if p.failed else "")
        line.append(", ")
        # "stuck": in one stage longer than the threshold (the help and the problem list say so)
        line.append(
            f"{p.stuck:,} stuck (>{duration(p.stuck_after)})",
            style=styles.warn if p.stuck else "",
        )
        if p.head_epoch is not None:
            line.append(f"; head {p.head_epoch}", style="dim")

        summary: dict[str, tuple[Text, ...]] = {}
        for s in p.summaries:
            summary[str(s.sp_id)] = (
                text(miner_address(snap, s.sp_id), styles.bold),
                *(self._bucket(s.counts[b], s.running[b]) for b in BUCKETS),
                num(s.done, styles.ok if s.done else ""),
                num(s.failed, styles.crit if s.failed else ""),
            )
        if len(p.summaries) > 1:
            summary["all"] = (
                text("all", styles.bold),
                *(self._bucket(load.pending + load.running, load.running) for load in p.loads),
                num(p.done),
                num(p.failed, styles.crit if p.failed else ""),
            )
        self.query_one("#pipeline-summary", KeyedTable).sync(summary)

        sectors = {}
        for sector in p.sectors:
            cells = (
                text(miner_address(snap, sector.sp_id)),
                ident(sector.sector_number),
                age(sector.age, styles.crit if sector.age > 12 * 3600 else ""),
                text(sector.stage),
                strip_text(sector.cells, styles),
                state_text(sector, styles),
            )
            if self.matches(*cells):
                sectors[sector.key] = cells
        self.query_one("#pipeline-sectors", KeyedTable).sync(sectors)

        problems = {}
        for problem in p.problems:
            cells = (
                text(miner_address(snap, problem.sp_id)),
                ident(problem.sector_number),
                text(problem.kind, styles.crit if problem.kind == "failed" else styles.warn),
                text(problem.stage),
                age(problem.age),
                text(problem.reason),
                text(problem.message, "dim"),
            )
            if self.matches(*cells):
                problems[problem.key] = cells
        self.query_one("#pipeline-problems", KeyedTable).sync(problems)
        if len(p.sectors) < p.in_progress:
            line.append(f"  (strip: oldest {len(p.sectors)})", style="dim")
        line.append(self.filter_note(len(sectors), len(p.sectors)))
        header.update(line)

    def _render_history(self, snap: ClusterSnapshot) -> None:
        styles = self.palette
        h = snap.pipeline.history
        header = self.query_one("#pipeline-header", PaneHeader)
        rows = {}
        for f in h.sectors:
            ended = (snap.taken_at - f.finished_at).total_seconds() if f.finished_at else None
            rows[f.key] = (
                ident(f.sector_number, styles.bold),
                age(ended),
                *(stage_time(f, stage, styles) for stage in HISTORY_STAGE_COLUMNS),
                Text(
                    took(f.total) if f.total is not None else "-",
                    style=styles.bold if f.total is not None else "dim",
                    justify="right",
                ),
                stage_time(f, "Finalize", styles),
                stage_time(f, "Move", styles),
                stage_time(f, "Synth", styles),
                num(f.failed_attempts, styles.warn if f.failed_attempts else "dim"),
                text(miner_address(snap, f.sp_id)),
            )
        self.query_one("#pipeline-history", KeyedTable).sync(rows)
        line = Text()
        line.append("sealing history: ", style=styles.bold)
        if not h.read:
            line.append("reading...")
        elif h.bad_search is not None:
            line.append(f"'{h.bad_search}' is not a sector number", style=styles.warn)
            line.append(" (/ searches by number)", style="dim")
        elif h.search is not None:
            found = len(h.sectors)
            line.append(
                f"sector {h.search}: " + (f"{found} finished" if found else "not finished"),
            )
            if not found:
                line.append(" (in flight or failed: i)", style="dim")
        elif not h.sectors:
            line.append("no finished sectors yet")
        else:
            line.append(f"newest {len(h.sectors)} finished")
            line.append("  / finds any by number", style="dim")
        header.update(line)

    @staticmethod
    def _bucket(count: int, running: int) -> Text:
        if not count:
            return Text("0", style="dim", justify="right")
        shown = f"{count:,}" + (f"({running})" if running else "")
        return Text(shown, justify="right", no_wrap=True)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        key = event.row_key.value
        if key is None or ":" not in key:
            return
        self.post_message(self.DetailRequested("sector", key))
