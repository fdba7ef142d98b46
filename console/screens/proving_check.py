"""The provability check of one deadline, from the PoSt pane (``enter`` on a deadline): what
``harmony proving check DEADLINE`` does, live on screen.

Each partition is checked in turn by :func:`engine.tasks.window.check.check_provable` (the
WindowPoSt task's own code paths, fresh randomness, read-only: nothing is submitted, declared
or written), in a worker off the event loop; the screen says which partition it is on and adds
each partition's sectors, good or bad with the reason, as they come. ``enter`` on a sector (a bad
one is selected when the check ends) opens its drill-down above the check, whose results stay
for ``esc`` to come back to. ``esc`` closes it (and stops the check: nothing is left
half-written, since it writes nothing).

The screen knows no database: the app hands it the two engine calls, bound to its pool.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from engine.chain.miners import parse_miner

from ..feed import one_line
from ..panes.base import Pane
from ..widgets.cells import styles_for, text
from ..widgets.keyed_table import Column, KeyedTable

if TYPE_CHECKING:
    from engine.tasks.window.check import SectorCheck

__all__ = ["ProvingCheckScreen"]

COLUMNS = (
    Column("Part", "partition", 4, right=True),
    Column("Sector", "sector", 8, right=True),
    Column("Status", "status", 6),
    Column("Reason", "reason"),
)

#: the deadline's partitions with live sectors
Partitions = Callable[[], Awaitable[list[int]]]
#: one partition's sectors checked
CheckPartition = Callable[[int], Awaitable[list["SectorCheck"]]]


def id_of(address: str) -> int | None:
    """The actor id of a miner's ID address (``t01000``, ``f01000``), None for another."""
    try:
        return parse_miner(address)
    except ValueError:
        return None


class ProvingCheckScreen(ModalScreen[None]):
    """Check every sector of one deadline; good or bad per sector, with the reason."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close", id="console.check.close"),
        Binding("enter", "sector", "Sector drill-down", show=False, id="console.check.sector"),
    ]

    def __init__(
        self,
        address: str,
        deadline: int,
        partitions: Partitions,
        check: CheckPartition,
        *,
        sp_id: int | None = None,
    ) -> None:
        super().__init__()
        self.address = address
        self.deadline = deadline
        #: the miner's actor id (default: read from its ID address), the drill-down's key
        self.sp_id = sp_id if sp_id is not None else id_of(address)
        self._partitions = partitions
        self._check = check
        #: every sector checked so far, in order
        self.results: list[SectorCheck] = []
        #: the check has ended (all partitions done, or it failed)
        self.finished = False
        #: why it could not run to the end, or None
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog detail"):
            yield Static(
                Text(f"Provability check: {self.address} deadline {self.deadline}", style="bold"),
                classes="dialog-title",
            )
            yield Static(Text("finding the deadline's partitions..."), id="check-progress")
            yield KeyedTable(COLUMNS, id="check-table")
            yield Static(id="check-reason")
            yield Static(
                Text(
                    "reads each sector's files and proves it for a fresh challenge; submits "
                    "nothing. enter: the sector's drill-down; esc closes",
                    style="dim",
                )
            )

    def on_mount(self) -> None:
        self.query_one("#check-table", KeyedTable).focus()
        self.run_check()

    @work(exclusive=True, exit_on_error=False, group="proving-check", name="proving-check")
    async def run_check(self) -> None:
        progress = self.query_one("#check-progress", Static)
        try:
            partitions = await self._partitions()
            if not partitions:
                progress.update(Text("this deadline has no live sectors: nothing to check"))
                return
            for i, partition in enumerate(partitions, start=1):
                progress.update(
                    Text(
                        f"checking partition {partition} ({i} of {len(partitions)}); "
                        f"{self._tally()}"
                    )
                )
                self.results.extend(await self._check(partition))
                self._show_rows()
            bad = sum(not c.ok for c in self.results)
            first_bad = next((c for c in self.results if not c.ok), None)
            if first_bad is not None:  # its whole reason shows under the table
                table = self.query_one("#check-table", KeyedTable)
                table.select_key(f"{first_bad.partition}:{first_bad.sector}")
                self._show_reason()
            line = Text()
            line.append(f"done: {len(self.results)} sector(s) checked, ", style="bold")
            styles = styles_for(self.app)
            line.append(
                f"{bad} bad" if bad else "all good", style=styles.crit if bad else styles.ok
            )
            if bad:
                line.append(": the next WindowPoSt would skip them (the chain marks them faulty)")
            progress.update(line)
        except Exception as exc:  # the operator sees what failed; the screen stays
            self.error = one_line(exc)
            progress.update(Text(f"the check failed: {self.error}", style="bold red"))
        finally:
            self.finished = True

    def _tally(self) -> str:
        bad = sum(not c.ok for c in self.results)
        return f"{len(self.results)} checked so far, {bad} bad"

    def _show_rows(self) -> None:
        styles = styles_for(self.app)
        rows = {
            f"{c.partition}:{c.sector}": (
                text(c.partition, right=True),
                text(c.sector, right=True),
                text("good", styles.ok) if c.ok else text("bad", styles.crit),
                text(c.reason),
            )
            for c in self.results
        }
        self.query_one("#check-table", KeyedTable).sync(rows)
        self._show_reason()

    def _show_reason(self) -> None:
        """The selected sector's whole reason (the table's cell is cut at the box's width)."""
        key = self.query_one("#check-table", KeyedTable).selected_key
        check = next((c for c in self.results if f"{c.partition}:{c.sector}" == key), None)
        out = Text()
        if check is not None and not check.ok:
            out.append(f"sector {check.sector}: ", style="bold")
            out.append(check.reason)
        self.query_one("#check-reason", Static).update(out)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_reason()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_sector()

    def action_sector(self) -> None:
        """The selected sector's drill-down, opened above this screen (``esc`` comes back)."""
        key = self.query_one("#check-table", KeyedTable).selected_key
        if key is None or self.sp_id is None:
            return
        sector = key.partition(":")[2]
        self.app.post_message(Pane.DetailRequested("sector", f"{self.sp_id}:{sector}"))

    def action_close(self) -> None:
        self.workers.cancel_group(self, "proving-check")
        self.dismiss(None)
