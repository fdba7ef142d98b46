"""Pane 3: the sealing pipeline: Curio's summary buckets, a stage strip per sector, and the
failed or stuck sectors, oldest first."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from engine.snapshot import BUCKETS, ClusterSnapshot, SectorStrip, StripCell, duration

from ..widgets.cells import Styles, age, ident, miner_address, num, text
from ..widgets.keyed_table import Column, KeyedTable
from .base import Pane, PaneHeader

__all__ = ["GLYPHS", "STAGE_CODES", "PipelinePane", "strip_text"]

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

PROBLEM_COLUMNS = (
    Column("Miner", "miner", 7),
    Column("Sector", "sector", 6, right=True),
    Column("Kind", "kind", 6),
    Column("Stage", "stage", 12),
    Column("For", "age", 6, right=True),
    Column("Reason", "reason", 15),
    Column("Message", "message"),
)


def cell_style(styles: Styles, status: str) -> Style | str:
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
    }[status]


def strip_text(cells: tuple[StripCell, ...], styles: Styles) -> Text:
    out = Text(no_wrap=True)
    for i, cell in enumerate(cells):
        if i:
            out.append(" ")
        out.append(GLYPHS[cell.status], style=cell_style(styles, cell.status))
    return out


def state_text(sector: SectorStrip, styles: Styles) -> Text:
    if sector.state == "Failed":
        return text("Failed", styles.crit)
    if sector.stuck:
        return text("Stuck", styles.warn)
    return text(sector.state, styles.ok if sector.state == "Sealed" else "")


class PipelinePane(Pane):
    """Sectors moving through SDR, trees, PreCommit, seed, PoRep and Commit."""

    SECTION = "pipeline"

    LISTS = frozenset({"sectors"})

    def compose(self) -> ComposeResult:
        yield PaneHeader(self.WAITING, id="pipeline-header")
        yield KeyedTable(SUMMARY_COLUMNS, id="pipeline-summary")
        yield Static(Text(LEGEND, style="dim"), id="pipeline-legend", classes="legend")
        yield KeyedTable(SECTOR_COLUMNS, id="pipeline-sectors")
        yield Static(Text("failed or stuck, oldest first", style="bold"), classes="section-title")
        yield KeyedTable(PROBLEM_COLUMNS, id="pipeline-problems")

    @property
    def filter_table(self) -> KeyedTable:
        return self.query_one("#pipeline-sectors", KeyedTable)

    def render_snapshot(self, snap: ClusterSnapshot) -> None:
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
