"""Fixes from a new operator's walkthrough of the second round's console (issue 13): each test
holds one thing the walkthrough saw on screen, and fails without its fix."""

from __future__ import annotations

import re
from typing import Any

import pytest

from console.app import PANE_KINDS
from console.fixture import FIXED_NOW
from console.panes.miners import power_text
from console.screens.help import HELP
from console.screens.machine import MachineScreen
from console.screens.storage_path import StoragePathScreen, fold
from console.screenshots import fixture_app, settle
from console.widgets.cells import miner_address
from console.widgets.keyed_table import KeyedTable
from engine.harmonydb import DB
from engine.snapshot.format import countdown, took
from engine.snapshot.miners import info_lines, miner_infos, size_text
from support.curio_cli import run_harmony
from support.curio_schema import curio_cluster


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 B"),
        (6 * 2**10, "6 KiB"),
        (18 * 2**10, "18 KiB"),
        (3 * 2**39, "1.5 TiB"),
        (int(10.3 * 2**40), "10.3 TiB"),
        (1020 * 2**30, "1020 GiB"),
        (int(1023.5 * 2**30), "1.0 TiB"),
        (int(123.4 * 2**40), "123 TiB"),
    ],
)
def test_power_cells_say_what_the_summary_says_in_eight_characters(size: int, shown: str) -> None:
    assert power_text(size) == shown
    assert len(shown) <= 8


async def test_miners_header_table_and_summary_say_power_in_the_same_units(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    """Seen: ``1 miner; raw power 18K`` and a Raw cell ``18K`` above ``Power: 18 KiB raw``."""
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("7")
        text = await shows(app, pilot, "Miner: t01000")
        infos = miner_infos(app.snapshot, FIXED_NOW)
        total = sum(i.raw_power or 0 for i in infos)
        assert total > 0
        assert f"raw power {size_text(total)};" in text
        table = app.query_one("#miners-table", KeyedTable)
        for info in infos:
            assert info.raw_power is not None and info.qa_power is not None
            raw, qap = (c.plain for c in table.get_row(str(info.sp_id))[1:3])
            # the very figure of the CLI's Power line
            assert f"Power: {raw} raw, {qap} quality-adjusted" in info_lines(info, FIXED_NOW)
        # the wider cells still leave every column inside 80 columns
        assert table.virtual_size.width <= table.size.width


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0.0484, "48ms"), (0.9996, "1.00s"), (2.048, "2.05s"), (9.996, "9s"), (75, "1m15s")],
)
def test_took_never_grows_past_five_characters(seconds: float, shown: str) -> None:
    """Seen ``1000ms`` would not fit the history's five-character stage columns."""
    assert took(seconds) == shown


async def test_sealing_history_at_80_columns_ends_on_a_whole_column(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    """Seen at 80x24: ``Total  Fina`` over `` 29s   73m``, Finalize's ``73ms`` cut at the edge
    (an hour, read as it stood). The columns through Total fill the width; the rest scroll."""
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("3", "h")
        text = await shows(app, pilot, "sealing history: newest")
        table = app.query_one("#pipeline-history", KeyedTable)
        assert table.row_count > 0
        lines = text.splitlines()
        header = next(i for i, line in enumerate(lines) if line.lstrip().startswith("Sector"))
        assert lines[header].rstrip().endswith("Total")
        totals = [table.get_row(row.key)[9].plain for row in table.ordered_rows]
        region = table.scrollable_content_region  # inside the scrollbars
        rows = min(len(totals), region.height - 1)  # under the column labels
        shown = [line[: region.width] for line in lines[header + 1 : header + 1 + rows]]
        assert len(shown) > 3
        # each row ends on its total, nothing of the next column
        assert [line.split()[-1] for line in shown] == totals[: len(shown)]


async def test_storage_at_80_columns_ends_on_harmony_s_bytes(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    """Seen at 80x24: ``Harmony  Us`` over ``0 B  St``, the Use column's first letters cut."""
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("4")
        text = await shows(app, pilot, "Used/Capacity")
        table = app.query_one("#storage-table", KeyedTable)
        lines = text.splitlines()
        header = next(i for i, line in enumerate(lines) if line.lstrip().startswith("Path"))
        region = table.scrollable_content_region
        assert lines[header][: region.width].rstrip().endswith("Harmony")
        mine = [table.get_row(row.key)[4].plain for row in table.ordered_rows]
        rows = min(len(mine), region.height - 1)
        shown = [line[: region.width] for line in lines[header + 1 : header + 1 + rows]]
        assert len(shown) > 1
        for line, cell in zip(shown, mine, strict=False):
            assert line.rstrip().endswith(f" {cell}"), (line, cell)


async def test_events_header_names_the_chosen_kind_as_its_key_does(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    """Seen: ``o PoSt`` in the kinds line, then ``showing 8 post`` in the header."""
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("8")
        await shows(app, pilot, "o PoSt")
        await pilot.press("o")
        text = await shows(app, pilot, "; showing")
        header = next(line for line in text.splitlines() if "; showing" in line)
        assert header.rstrip().endswith(" PoSt"), header
        await pilot.press("m")
        await shows(app, pilot, "machines\n")


async def test_curio_events_name_a_miner_as_the_other_views_do(pg_url: str, shows: Any) -> None:
    """Seen on a Curio cluster: Jobs and Sealing said ``f01000`` (Curio writes its miners with
    the network's prefix), the Events pane and ``harmony events`` said ``t01000 s4``."""
    async with curio_cluster(pg_url, at=FIXED_NOW) as curio:
        app = fixture_app(curio.url, curio.schema)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("8")
            text = await shows(app, pilot, "sector fail")
            failed = next(e for e in app.snapshot.events.events if e.kind == "sector-failed")
            assert failed.sp_id is not None
            miner = miner_address(app.snapshot, failed.sp_id)
            assert miner.startswith("f0")  # the fixture's nodes serve f01000
            assert f"{miner} s{failed.sector_number}" in text
            assert "t01000" not in text
    async with curio_cluster(pg_url) as curio:  # as old as the CLI's clock says
        out = await run_harmony(curio.url, curio.schema, "events", "--since", "2d")
        assert out.returncode == 0, out.stderr
        assert f"{miner} s{failed.sector_number}" in out.stdout and "t01000" not in out.stdout


async def test_a_stale_machine_s_contact_shows_whole_at_80_columns(pg_url: str, shows: Any) -> None:
    """Seen on a Curio cluster at 80x24: ``stale 4m41`` (the seconds' ``s`` cut at the edge)."""
    async with curio_cluster(pg_url, at=FIXED_NOW) as curio:
        app = fixture_app(curio.url, curio.schema)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await shows(app, pilot, "post-1")
            app.clock.advance(41)  # the fixture's 4m, then 4m41s: the longest an age gets
            await pilot.press("ctrl+r")
            text = await shows(app, pilot, "stale 4m41s")
            table = app.query_one("#machines-table", KeyedTable)
            stale = [m for m in app.snapshot.machines if m.stale and m.alive]
            assert stale
            for m in stale:
                contact = table.get_row(str(m.id))[6].plain
                assert contact == "stale 4m41s"
                line = next(line for line in text.splitlines() if line.startswith(f" {m.label}"))
                assert line.rstrip().endswith(contact), line


def test_help_lists_every_key_a_pane_binds() -> None:
    """Seen on a Curio cluster: the footer offered ``R Restart``; ``?`` listed no R (nor A)."""
    listed = {key for _, rows in HELP for keys, _ in rows for key in re.split(r"[\s/]+", keys)}
    for pane in PANE_KINDS.values():
        for binding in pane.BINDINGS:
            key = binding.key if hasattr(binding, "key") else binding[0]
            assert key in listed, f"{pane.__name__}: {key} is not under ?"


def test_fold_breaks_a_report_line_between_figures_only() -> None:
    bar = "[" + "#" * 34 + " " * 16 + "]"
    line = f"  {bar} 175.6 GiB/252 GiB 69%"
    assert fold(line, 68) == [f"  {bar}", "    175.6 GiB/252 GiB 69%"]
    counts = "  Unsealed: 0; Sealed: 22; Caches: 22; Updated: 0; Update-caches: 0; Reserved: 0 B"
    assert fold(counts, 68) == [
        "  Unsealed: 0; Sealed: 22; Caches: 22; Updated: 0; Update-caches: 0;",
        "    Reserved: 0 B",
    ]
    assert fold("  Weight: 10; Use: Store", 68) == ["  Weight: 10; Use: Store"]


async def test_a_storage_path_s_detail_keeps_its_figures_whole_at_80x24(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    """Seen at 80x24: ``[####...] 175.6 GiB/252`` over ``GiB 69%`` in the path's detail."""
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("4")
        await shows(app, pilot, "Used/Capacity")
        await pilot.press("enter")
        text = await shows(app, pilot, "Storage path", "Weight:")
        assert isinstance(app.screen, StoragePathScreen)
        figures = re.compile(r"\d[\d.]* [KMGTP]?i?B/\d[\d.]* [KMGTP]?i?B \d+%")
        assert figures.search(text), text
        assert not any(line.rstrip(" █▌▐").endswith("/") for line in text.splitlines())
        assert re.search(r"Update-caches: \d+;", text), text


async def test_a_machine_s_detail_keeps_version_and_its_number_together_at_80x24(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    """Seen at 80x24: ``... up 3m48s   version`` over ``0.1.0``."""
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("enter")
        text = await shows(app, pilot, "last contact", "task types")
        assert isinstance(app.screen, MachineScreen)
        machine = app.snapshot.machine(app.screen.machine_id)
        assert machine is not None and machine.version and machine.startup_time is not None
        line = next(line for line in text.splitlines() if "last contact" in line)
        assert f"version {machine.version}" in line, text
        assert any(line.lstrip().startswith("started ") for line in text.splitlines()), text


async def test_the_task_history_s_filter_note_stays_whole_at_80x24(
    cluster: DB, console_app: Any, first_render: Any, shows: Any
) -> None:
    """Seen at 80x24 (a job's detail, then h): ``filter '313':`` over ``0 matching attempts``;
    on the fixture cluster ``24h: 864 done, 97`` over ``failed``."""
    app = console_app(cluster.url.dsn, cluster.schema)
    async with app.run_test(size=(80, 24)) as pilot:
        await first_render(app, pilot)
        await pilot.press("2", "h")
        await shows(app, pilot, "Outcome")
        await pilot.press("slash", *"nosuchtype", "enter")
        text = await shows(app, pilot, "matching attempts")
        assert "filter 'nosuchtype': 0 matching attempts" in text, text
        # and the day's figures whole (the fixture's header broke as "97" over "failed")
        assert re.search(r"24h: [\d,]+ done, [\d,]+ failed", text), text
        assert all(len(line) <= 80 for line in text.splitlines())


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(-0.4, " 00:00:00"), (0.4, " 00:00:00"), (-1.2, "-00:00:01"), (3725, " 01:02:05")],
)
def test_a_countdown_has_no_negative_zero(seconds: float, shown: str) -> None:
    """Seen in the PoSt pane: a deadline opening ``-00:00:00``."""
    assert countdown(seconds) == shown
