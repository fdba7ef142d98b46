"""``?``: every key, grouped, and what the screen's symbols mean."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["HELP", "HelpScreen", "help_table"]

HELP = [
    (
        "Panes",
        [
            (
                "1-9",
                "machines, task queues, sealing pipeline, storage, PoSt deadlines, jobs, "
                "miners, events, alerts",
            ),
            ("tab / shift+tab", "next / previous table in a pane"),
            ("enter", "details of the selected machine, sector, storage path or job"),
            ("h (a job's detail)", "the task's attempts in the task history"),
            ("s (a job's detail)", "the drill-down of the sector the task seals"),
            ("s (jobs)", "the drill-down of the sector the selected job seals"),
            ("esc", "back; clears the filter"),
        ],
    ),
    (
        "Everywhere",
        [
            ("/", "filter the table (history: searched in the database)"),
            ("> / <", "sort the table by the next / previous column (then unsorted)"),
            ("S", "reverse the sort; the header's arrow shows the column and direction"),
            ("ctrl+p or :", "command palette: jump to a machine, a task, a sector"),
            ("p", "pause / resume live updates"),
            ("+ / -", "refresh less / more often (default 2 s, minimum 1 s)"),
            ("ctrl+r", "refresh now"),
            ("q", "quit (asks first when this machine's engine runs tasks)"),
        ],
    ),
    (
        "Machines",
        [
            ("c / u / d", "cordon / uncordon / drain the selected machine (asks first)"),
            ("R / A", "Curio: request / abort the selected machine's restart (asks first)"),
        ],
    ),
    (
        "Task queues",
        [
            ("t / f / h", "queues per type / failed tasks / history"),
            ("r", "restart the selected failed task"),
        ],
    ),
    (
        "Sealing",
        [
            ("i / h", "sectors in flight / sealing history (finished, each stage's time)"),
            ("/ in h", "find a finished sector by number (searched in the database)"),
            (
                "enter",
                "the sector's drill-down: database vs chain, why its tasks wait, attempts, files",
            ),
            ("r (a sector's detail)", "resume its failed stage (asks first; not on Curio)"),
        ],
    ),
    (
        "PoSt",
        [
            ("a", "show all 48 deadlines or only those with sectors"),
            ("enter", "check the selected deadline's sectors are provable now (submits nothing)"),
            ("enter (the check)", "the selected sector's drill-down (esc comes back)"),
        ],
    ),
    (
        "Events",
        [
            ("a f m t s o b", "all / failures / machines / tasks / sectors / PoSt / blocks"),
            ("enter", "a sector's event: the sector's drill-down; any other: the event whole"),
            ("d", "the selected event whole (an error's every line)"),
            (
                "Curio",
                "no record of left, cordon, uncordon, drain, retry, lost, resume, "
                "PoSt missed, declared faults",
            ),
        ],
    ),
    (
        "Alerts",
        [
            ("a / m", "acknowledge / mute for a while the selected alert (asks first)"),
            (
                "enter",
                "open what the alert is about: sector, path, machine, deadline, task's "
                "attempts; the Storage pane (store space), the PoSt pane (chain head, stuck "
                "messages), a failed check's alerts",
            ),
            ("header", "N alerts: open ones neither acknowledged nor muted, by worst severity"),
        ],
    ),
    (
        "Symbols",
        [
            ("[###**   ]", "used, reserved, free; yellow above 90 %, red above 98 %"),
            (
                "strip",
                "= done > running ~ queued + ready, no task yet b batch w chain ! failed . not yet",
            ),
            (
                "stages",
                "S SDR D TreeD C TreeC R TreeR Y Synthetic P PComm Msg p PComm Wait "
                "W Wait Seed O PoRep F Clear Cache M Move Storage K Commit Msg k Commit Wait",
            ),
            ("deadlines", ". empty # proven x part faulty X faulty; reversed = current"),
        ],
    ),
]


def help_table() -> Table:
    """Keys and meanings in two columns (the second wraps under itself)."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for section, rows in HELP:
        table.add_row(Text(section, style="bold underline"), "")
        for key, what in rows:
            table.add_row(Text(key), Text(what))
        table.add_row("", "")
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close", id="console.help.close")
    ]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog detail"):
            yield Static(Text("Harmony Console keys", style="bold"), classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(help_table())

    def action_close(self) -> None:
        self.dismiss(None)
