"""Pane 7: miners, like ``lotus-miner info``: per miner its sectors by state, raw and
quality-adjusted power, WinningPoSt (blocks won, missed, win rate), faults and recoveries, and
the next deadline with sectors, counting down; and below, the selected miner's sector
expirations by bucket (:func:`engine.snapshot.expirations.expiration_line`, the line ``harmony
sectors expirations`` prints).

One definition with ``harmony miner info``: both take :func:`engine.snapshot.miners.miner_infos`
of a snapshot, and the selected miner's lines below the table are the CLI's
(:func:`~engine.snapshot.miners.info_lines`).
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.reactive import var
from textual.widgets import DataTable, Static

from engine.snapshot import ClusterSnapshot, countdown
from engine.snapshot.expirations import ExpirationsSnap, expiration_line
from engine.snapshot.miners import MinerInfo, info_lines, miner_infos, rate_text, size_text

from ..widgets.cells import Styles, num, text
from ..widgets.clauses import join_clauses
from ..widgets.keyed_table import Column, KeyedTable
from .base import Pane, PaneHeader

__all__ = ["MinersPane"]

#: through Next DL the columns fit 80 (the sealed count and the rest are in the summary below)
COLUMNS = (
    Column("Miner", "miner", 8),
    Column("Raw", "raw", 8, right=True),
    Column("QAP", "qap", 8, right=True),
    Column("Seal", "sealing", 5, right=True),
    Column("Live", "live", 5, right=True),
    Column("Faulty", "faulty", 6, right=True),
    Column("Won", "won", 4, right=True),
    Column("Rate", "rate", 6, right=True),
    Column("Next DL", "next", 11),
)

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def power_text(size: int) -> str:
    """Power as the summary below and ``harmony miner info`` write it
    (:func:`~engine.snapshot.miners.size_text`: ``18 KiB``, ``10.3 TiB``) where that fits the
    column's eight characters, else in whole units (``1000 GiB`` -> ``1.0 TiB``, ``123 TiB``).
    The column once said ``18K`` beside a summary saying ``18 KiB``."""
    exact = size_text(size)
    if len(exact) <= 8:
        return exact
    value = float(size)
    for unit in _UNITS:
        if round(value) < 1000 or unit == _UNITS[-1]:
            return f"{value:.0f} {unit}" if round(value, 1) >= 10 else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _power(value: int | None) -> Text:
    if value is None:
        return Text("?", style="dim", justify="right")
    return Text(power_text(value), justify="right", no_wrap=True)


def next_cell(info: MinerInfo, now: datetime) -> Text:
    """``5 00:29:58``: the next deadline with sectors and the time until it opens."""
    nd = info.next_deadline
    if nd is None:
        return Text("-", style="dim")
    return Text(f"{nd.index:>2} {countdown(nd.opens_in(now)).strip()}", no_wrap=True)


def miner_cells(info: MinerInfo, now: datetime, styles: Styles) -> tuple[Text, ...]:
    return (
        text(info.address, styles.bold),
        _power(info.raw_power),
        _power(info.qa_power),
        num(info.sealing, styles.info if info.sealing else ""),
        num(info.live),
        num(info.faulty, styles.crit if info.faulty else ""),
        num(info.blocks_won),
        Text(rate_text(info.win_rate), justify="right"),
        next_cell(info, now),
    )


class MinersPane(Pane):
    """One row per miner; the selected miner's full summary below."""

    SECTION = "post"
    #: WinningPoSt (``miners``), and the pipeline's summary (its sectors by state), which a
    #: refresh re-reads at once only while a view on screen names it
    LISTS = frozenset({"miners", "pipeline"})

    #: the wide layout's rules start at the screen (its ``-wide`` class): not scoped to the pane
    SCOPED_CSS = False
    DEFAULT_CSS = """
    MinersPane #miners-body {
        height: 1fr;
    }
    MinersPane #miners-table {
        height: auto;
        max-height: 50%;
    }
    MinersPane #miners-detail {
        height: 1fr;
        padding: 0 1;
    }
    Screen.-wide MinersPane #miners-body {
        layout: horizontal;
    }
    Screen.-wide MinersPane #miners-table {
        width: 1fr;
        height: 1fr;
        max-height: 100%;
    }
    Screen.-wide MinersPane #miners-detail {
        width: 1fr;
    }
    """

    #: the key of the highlighted row (its summary is shown below the table)
    highlighted: var[str | None] = var(None)

    def __init__(self, *, id: str | None = None, read_only: bool = False) -> None:
        super().__init__(id=id, read_only=read_only)
        #: the last render's summaries, by row key
        self._infos: dict[str, MinerInfo] = {}
        #: the last render's sector expirations (a line of the selected miner's summary)
        self._expirations = ExpirationsSnap.empty()

    def compose(self) -> ComposeResult:
        yield PaneHeader(self.WAITING, id="miners-header")
        # the table above the selected miner's summary; side by side from 160 columns
        with Vertical(id="miners-body"):
            yield KeyedTable(COLUMNS, id="miners-table")
            with VerticalScroll(id="miners-detail"):
                yield Static(id="miners-info")
                yield Static(id="miners-expirations")

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#miners-table", KeyedTable)

    @property
    def filter_table(self) -> KeyedTable:
        return self.table

    def render_snapshot(self, snap: ClusterSnapshot) -> None:
        self._draw(snap, self.now or snap.taken_at)

    def tick(self, now: datetime) -> None:
        if self.snapshot is not None and self.snapshot.error(self.SECTION) is None:
            self._draw(self.snapshot, now)

    def _draw(self, snap: ClusterSnapshot, now: datetime) -> None:
        styles = self.palette
        header = self.query_one("#miners-header", PaneHeader)
        infos = miner_infos(snap, now)
        self._expirations = snap.expirations
        self._infos = {str(i.sp_id): i for i in infos}
        if not infos:
            header.update(Text("no miners yet: create one with `harmony chain create-miner`"))
            self.table.sync({})
            self._show_info(now)
            return
        rows = {}
        for info in infos:
            cells = miner_cells(info, now, styles)
            if self.matches(*cells):
                rows[str(info.sp_id)] = cells
        count = len(infos)
        clauses = [Text(f"{count} miner{'s' if count != 1 else ''}", style=styles.bold)]
        raw = [i.raw_power for i in infos]
        if all(r is not None for r in raw):
            clauses.append(Text(f"raw power {size_text(sum(r or 0 for r in raw))}"))
        else:
            clauses.append(Text("power not known (no Lotus node)", style="dim"))
        faulty = sum(i.faulty for i in infos)
        clauses.append(Text(f"{faulty} faulty", style=styles.crit if faulty else ""))
        won = sum(i.blocks_won for i in infos)
        clauses.append(Text(f"{won} block{'s' if won != 1 else ''} won in 24 h"))
        line = join_clauses(clauses, header.line_width)
        line.append(self.filter_note(len(rows), count))
        header.update(line)
        self.table.sync(rows)
        self._show_info(now)

    def _show_info(self, now: datetime) -> None:
        key = self.table.selected_key
        info = self._infos.get(key) if key is not None else None
        body = Text("\n".join(info_lines(info, now))) if info is not None else Text("")
        self.query_one("#miners-info", Static).update(body)
        expiring = expiration_line(self._expirations, info.sp_id) if info is not None else ""
        self.query_one("#miners-expirations", Static).update(Text(expiring))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.highlighted = event.row_key.value
        if self.snapshot is not None:
            self._show_info(self.now or self.snapshot.taken_at)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
