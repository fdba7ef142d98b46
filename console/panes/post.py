"""Pane 5: WindowPoSt deadlines per miner: the 48-cell strip, live countdowns to Challenge,
Open, Close and FaultCutoff of the current and next non-empty deadlines, and the figures of
``proving info`` and ``proving deadlines``.

What the snapshot could not know (``PostSnap.missing``: on a Curio cluster without a reachable
Lotus node, the head, the deadline times, faults and power) is said under the miners, one line
each; the deadlines the database knows are shown without their times.

``enter`` on a deadline checks it (:class:`PostPane.CheckRequested`): the app opens the
provability check's screen (``harmony proving check DEADLINE``), which reads and proves every
sector of the deadline and submits nothing."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import var
from textual.widgets import DataTable, Static

from engine.chain import DeadlineInfo, EpochClock
from engine.snapshot import (
    ClusterSnapshot,
    PostDeadline,
    PostMiner,
    PostSnap,
    countdown,
    current_deadline,
    deadline_times,
    duration,
    next_non_empty,
)
from engine.snapshot.post import DeadlineFigures, deadline_figures
from engine.storage import size_str

from ..widgets.cells import Styles, num, text
from ..widgets.keyed_table import Column, KeyedTable
from .base import Pane, PaneHeader

__all__ = ["PostPane", "deadline_glyph", "deadline_strip"]

LEGEND = ". empty  # proven  x part faulty  X faulty  [reverse] current"

COUNTDOWN_COLUMNS = (
    Column("Miner", "miner", 7),
    Column("DL", "dl", 3, right=True),
    Column("When", "when", 8),
    Column("Sectors", "sectors", 7, right=True),
    Column("Challenge", "challenge", 9, right=True),
    Column("Open", "open", 9, right=True),
    Column("Close", "close", 9, right=True),
    Column("FaultCutoff", "cutoff", 11, right=True),
)

DEADLINE_COLUMNS = (
    Column("Miner", "miner", 7),
    Column("Deadline", "dl", 8, right=True),
    Column("Open", "open", 8),
    Column("Partitions", "partitions", 10, right=True),
    Column("Sectors (faults)", "sectors", 16, right=True),
    Column("Proven", "proven", 6, right=True),  # partitions; 80 columns show "(current)"
    Column("", "current", 9),
)


def deadline_glyph(d: PostDeadline) -> str:
    """Curio's grid flags as one character each: empty, proven, partly faulty, faulty."""
    if d.empty:
        return "."
    if d.all_faulty:
        return "X"
    if d.part_faulty:
        return "x"
    return "#"


def glyph_style(d: PostDeadline, styles: Styles) -> Style | str:
    if d.empty:
        return "dim"
    if d.all_faulty:
        return styles.crit
    if d.part_faulty:
        return styles.warn
    return styles.ok


def deadline_strip(miner: PostMiner, current: int | None, styles: Styles) -> Text:
    out = Text("[", no_wrap=True)
    for d in miner.deadlines:
        style = glyph_style(d, styles)
        if d.index == current:
            style = Style.parse(style) if isinstance(style, str) else style
            style = style + Style(reverse=True, bold=True)
        out.append(deadline_glyph(d), style=style)
    out.append("]")
    return out


def ruler(count: int, current: int | None) -> Text:
    """Tens digits under the strip, with ``^`` under the current deadline."""
    chars = [str(i // 10) if i % 10 == 0 else " " for i in range(count)]
    if current is not None and 0 <= current < count:
        chars[current] = "^"
    out = Text(" " + "".join(chars), style="dim", no_wrap=True)
    if current is not None:
        out.stylize("bold", current + 1, current + 2)
    return out


def _epoch_time(post: PostSnap, epoch: int) -> datetime:
    assert post.genesis is not None and post.profile is not None
    return EpochClock(post.genesis, post.profile).time_of(epoch)


def _miner_faults(miner: PostMiner, styles: Styles) -> Text:
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(miner.address, style=styles.bold)
    line.append(f" {size_str(miner.sector_size)}  ")
    pct = miner.faulty * 100 / miner.live if miner.live else 0.0
    line.append(f"faults {miner.faulty} ({pct:.1f}%)", style=styles.crit if miner.faulty else "")
    line.append(f", recovering {miner.recovering}")
    return line


def _period_info(post: PostSnap, info: DeadlineInfo, now: datetime) -> Text:
    assert post.profile is not None
    line = Text(no_wrap=True, overflow="ellipsis")
    period = post.profile.wpost_proving_period
    if info.period_start < 0:
        # A young chain: the miner's first period began before genesis (lotus-miner prints
        # the negative epoch); there is nothing before epoch 0 to show.
        line.append(f"first period (boundary {info.period_start % period}), ")
    else:
        line.append(f"period {info.period_start} (boundary {info.period_start % period}), ")
    next_start = _epoch_time(post, info.next_period_start)
    line.append(f"next in {duration((next_start - now).total_seconds())}", style="dim")
    return line


class PostPane(Pane):
    """WindowPoSt deadlines of every miner."""

    SECTION = "post"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "toggle_all", "All deadlines", id="console.post.all")
    ]

    #: why there is no Lotus node to read (set by the app at connect; None: there is one, or
    #: the cluster is ours)
    chain_note: var[str | None] = var(None, init=False)

    class CheckRequested(Message):
        """``enter`` on a deadline: check that its sectors are provable now."""

        def __init__(self, sp_id: int, deadline: int, address: str) -> None:
            super().__init__()
            self.sp_id = sp_id
            self.deadline = deadline
            self.address = address

    def __init__(self, *, id: str | None = None, read_only: bool = False) -> None:
        super().__init__(id=id, read_only=read_only)
        self.show_all = False

    def watch_chain_note(self) -> None:
        self.rerender()

    def compose(self) -> ComposeResult:
        yield PaneHeader(self.WAITING, id="post-header")
        # The miners and their countdowns above the deadlines' table; side by side from 160
        # columns (console.tcss, Screen.-wide), where the table keeps the full height.
        with Vertical(id="post-body"):
            with Vertical(id="post-overview"):
                yield Vertical(id="post-miners")
                yield Static(Text(LEGEND, style="dim"), classes="legend")
                yield KeyedTable(COUNTDOWN_COLUMNS, id="post-countdowns")
            yield KeyedTable(DEADLINE_COLUMNS, id="post-deadlines")

    @property
    def filter_table(self) -> KeyedTable:
        return self.query_one("#post-deadlines", KeyedTable)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        key = event.row_key.value
        if event.data_table is not self.filter_table or key is None or self.snapshot is None:
            return
        sp_id, deadline = (int(part) for part in key.split(":"))
        miner = next((m for m in self.snapshot.post.miners if m.sp_id == sp_id), None)
        address = miner.address if miner is not None else f"t0{sp_id}"
        self.post_message(self.CheckRequested(sp_id, deadline, address))

    def action_toggle_all(self) -> None:
        self.show_all = not self.show_all
        self.rerender()

    def tick(self, now: datetime) -> None:
        self.rerender()  # the countdowns

    def render_snapshot(self, snap: ClusterSnapshot) -> None:
        now = self.now or snap.taken_at
        styles = self.palette
        post = snap.post
        header = self.query_one("#post-header", PaneHeader)
        box = self.query_one("#post-miners", Vertical)
        if post.profile is None or post.genesis is None:
            if post.miners or post.missing:
                self._render_without_chain(post, styles)
                return
            header.update("no chain configured yet: the devnet demo sets one up (`harmony`)")
            self._sync_miner_lines(box, [])
            self.query_one("#post-countdowns", KeyedTable).sync({})
            self.filter_table.sync({})
            return
        self.query_one("#post-countdowns", KeyedTable).display = True
        epoch = EpochClock(post.genesis, post.profile).epoch_at(now)
        line = Text()
        if not post.miners:
            line.append(f"epoch {epoch}: no miners on the chain yet")
            header.update(line)
            self._sync_miner_lines(box, [])
            self.query_one("#post-countdowns", KeyedTable).sync({})
            self.filter_table.sync({})
            return
        live = sum(m.live for m in post.miners)
        faulty = sum(m.faulty for m in post.miners)
        recovering = sum(m.recovering for m in post.miners)
        line.append(
            f"{len(post.miners)} miner{'s' if len(post.miners) != 1 else ''}: ", style=styles.bold
        )
        line.append(f"{live:,} live sectors, ")
        line.append(f"{faulty:,} faulty", style=styles.crit if faulty else "")
        line.append(f" ({recovering:,} recovering); epoch {epoch}")
        # The dim details only where they fit on the line: at 80 columns they would wrap alone.
        width = header.line_width
        details = []
        if post.head_epoch is not None and post.head_epoch != epoch:
            # The clock's epoch; the devnet writes tipsets only when something is due, so its
            # last one may lag the clock (Curio's head is the node's, always current).
            details.append(f" (last tipset {post.head_epoch})")
        details.append(f"; {post.profile.name} {duration(post.profile.deadline_seconds)} deadlines")
        for detail in details:
            if line.cell_len + len(detail) <= width:
                line.append(detail, style="dim")
        header.update(line)

        miner_lines: list[Text] = []
        countdowns: dict[str, tuple[Text, ...]] = {}
        deadlines: dict[str, tuple[Text, ...]] = {}
        for miner in post.miners:
            info = current_deadline(post, miner, now)
            assert info is not None
            miner_lines.extend(self._miner_info_lines(post, miner, info, now, styles))
            miner_lines.append(Text(" ").append_text(deadline_strip(miner, info.index, styles)))
            miner_lines.append(ruler(len(miner.deadlines), info.index))
            here = miner.deadlines[info.index]
            countdowns[f"{miner.sp_id}:now"] = self._countdown_row(
                post, miner, info, here, "now", now, styles
            )
            nxt = next_non_empty(post, miner, now)
            if nxt is not None and nxt[0].index != info.index:
                countdowns[f"{miner.sp_id}:next"] = self._countdown_row(
                    post, miner, nxt[0], nxt[1], "next", now, styles
                )
            for f in deadline_figures(post, miner, now):
                d = miner.deadlines[f.index]
                if not (self.show_all or not d.empty or f.current):
                    continue
                cells = self._deadline_row(miner, f, info.index, styles)
                if self.matches(*cells):
                    deadlines[f"{miner.sp_id}:{d.index}"] = cells
        miner_lines.extend(self._missing_lines(post, styles))
        self._sync_miner_lines(box, miner_lines)
        self.query_one("#post-countdowns", KeyedTable).sync(countdowns)
        self.filter_table.sync(deadlines)

    def render_error(self, snap: ClusterSnapshot, message: str) -> None:
        super().render_error(snap, message)
        self._sync_miner_lines(self.query_one("#post-miners", Vertical), [])

    def _missing_lines(self, post: PostSnap, styles: Styles) -> list[Text]:
        lines = [Text(f"not known: {m}", style=styles.warn, no_wrap=False) for m in post.missing]
        if lines and self.chain_note:
            lines.append(Text(f"Lotus: {self.chain_note}", style="dim", no_wrap=False))
        return lines

    def _render_without_chain(self, post: PostSnap, styles: Styles) -> None:
        """The miners and deadlines the database holds, with no epoch to time them by."""
        line = Text()
        line.append(f"{len(post.miners)} miner{'s' if len(post.miners) != 1 else ''}: ")
        line.append(f"{sum(m.live for m in post.miners):,} live sectors, ")
        faulty = sum(m.faulty for m in post.miners)
        line.append(f"{faulty:,} faulty", style=styles.crit if faulty else "")
        line.append(f" ({sum(m.recovering for m in post.miners):,} recovering)")
        if post.head_epoch is not None:
            line.append(f"; head {post.head_epoch}")
        line.append("; no chain state", style=styles.warn)
        self.query_one("#post-header", PaneHeader).update(line)
        miner_lines: list[Text] = []
        deadlines: dict[str, tuple[Text, ...]] = {}
        for miner in post.miners:
            info = Text(no_wrap=True, overflow="ellipsis")
            info.append(miner.address, style=styles.bold)
            info.append(f" {size_str(miner.sector_size)}  " if miner.sector_size else "  ")
            info.append(f"faults {miner.faulty}", style=styles.crit if miner.faulty else "")
            info.append(f", recovering {miner.recovering}")
            miner_lines.append(info)
            if miner.deadlines:
                miner_lines.append(Text(" ").append_text(deadline_strip(miner, None, styles)))
                miner_lines.append(ruler(len(miner.deadlines), None))
            for d in miner.deadlines:
                if d.empty and not self.show_all:
                    continue
                cells = (
                    text(miner.address),
                    num(d.index),
                    text("-", "dim"),
                    num(d.partitions, "dim" if d.empty else ""),
                    Text(
                        f"{d.live} ({d.faulty})",
                        justify="right",
                        no_wrap=True,
                        style=styles.crit if d.faulty else ("dim" if d.empty else ""),
                    ),
                    num(d.proven_partitions),
                    text(""),
                )
                if self.matches(*cells):
                    deadlines[f"{miner.sp_id}:{d.index}"] = cells
        miner_lines.extend(self._missing_lines(post, styles))
        self._sync_miner_lines(self.query_one("#post-miners", Vertical), miner_lines)
        countdowns = self.query_one("#post-countdowns", KeyedTable)
        countdowns.sync({})
        countdowns.display = False  # nothing to count down to without the chain's epoch
        self.filter_table.sync(deadlines)

    def _sync_miner_lines(self, box: Vertical, lines: list[Text]) -> None:
        statics = list(box.query(Static))
        while len(statics) > len(lines):
            statics.pop().remove()
        for static, line in zip(statics, lines, strict=False):
            static.update(line)
            static.set_class(line.no_wrap is False, "wraps")
        if len(lines) > len(statics):
            box.mount_all(
                Static(line, classes="miner-line wraps" if line.no_wrap is False else "miner-line")
                for line in lines[len(statics) :]
            )

    def _miner_info(
        self, post: PostSnap, miner: PostMiner, info: DeadlineInfo, now: datetime, styles: Styles
    ) -> Text:
        """The miner's faults and proving period on one line."""
        return _miner_faults(miner, styles).append("  ").append_text(_period_info(post, info, now))

    def _miner_info_lines(
        self, post: PostSnap, miner: PostMiner, info: DeadlineInfo, now: datetime, styles: Styles
    ) -> list[Text]:
        """:meth:`_miner_info` where it fits the box, else two lines (the period on its own), so
        "next in" keeps its countdown at 80 columns."""
        line = self._miner_info(post, miner, info, now, styles)
        box = self.query_one("#post-miners", Vertical)
        width = box.content_size.width or self.query_one("#post-header", PaneHeader).line_width
        # room for a countdown that grows by a few cells, so the line does not flap
        if line.cell_len + 3 <= width:
            return [line]
        return [_miner_faults(miner, styles), Text(" ").append_text(_period_info(post, info, now))]

    def _countdown_row(
        self,
        post: PostSnap,
        miner: PostMiner,
        info: DeadlineInfo,
        d: PostDeadline,
        when: str,
        now: datetime,
        styles: Styles,
    ) -> tuple[Text, ...]:
        assert post.profile is not None
        t = deadline_times(post, info)
        style: Style | str = ""
        if when == "now" and info.is_open and not d.empty:
            elapsed = (now - t.open).total_seconds()
            window = post.profile.deadline_seconds
            if d.partitions_proven:
                style = styles.ok
            elif elapsed >= window / 2:
                style = styles.crit  # Curio: danger after 15 of 30 minutes unproven
            else:
                style = styles.warn

        def cd(moment: datetime) -> Text:
            seconds = (moment - now).total_seconds()
            return Text(
                countdown(seconds),
                justify="right",
                no_wrap=True,
                style="dim" if seconds < 0 else "",
            )

        label = Text(when, style=styles.bold if when == "now" else "", no_wrap=True)
        if when == "now" and not d.empty:
            label.append(f" {d.proven_partitions}/{d.partitions}", style=style)
        return (
            text(miner.address),
            num(info.index),
            label,
            num(d.live),
            cd(t.challenge),
            cd(t.open),
            cd(t.close),
            cd(t.fault_cutoff),
        )

    def _deadline_row(
        self, miner: PostMiner, f: DeadlineFigures, current: int, styles: Styles
    ) -> tuple[Text, ...]:
        """One row of ``proving deadlines``: the figures are :func:`deadline_figures`', the
        ones the CLI prints."""
        empty = f.sectors == 0
        proven_style: Style | str = ""
        if not empty and f.index < current:
            proven_style = styles.ok if f.proven_partitions >= f.partitions else styles.crit
        faults = Text(
            f"{f.sectors} ({f.faults})",
            justify="right",
            no_wrap=True,
            style=styles.crit if f.faults else ("dim" if empty else ""),
        )
        return (
            text(miner.address),
            num(f.index),
            text(f.open_time.strftime("%H:%M:%S")),
            num(f.partitions, "dim" if empty else ""),
            faults,
            num(f.proven_partitions, proven_style),
            text("(current)" if f.current else "", styles.bold),
        )
