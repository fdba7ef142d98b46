"""The console benchmark: refresh cost at scale, UI responsiveness under CPU load, memory.

``run_console_bench(url)`` seeds a scratch ``itest_`` schema with ``scale`` times 100 machines,
10,000 pending tasks, 1,000,000 history rows over the last 24 h and 10,000 sectors (all with
``generate_series``, one statement per table), then measures

* the refresh: database time (statement round trips) and wall time (plus decoding and
  building the snapshot) of :meth:`SnapshotReader.snapshot`, for the default pane and for every
  registered pane (each reads the lists its ``Pane.LISTS`` names), over steady refreshes while
  new history keeps arriving (200 rows per refresh); median, p95 and max; and, separately, the
  one-time load of the 24 h history in slices between refreshes;
* the UI: the console app running headless in this process, refreshing every second, while
  CPU-heavy ``burn`` work runs through the engine's process pool: event-loop lag (how late a
  10 ms timer fires, sampled by a task of its own so a slow key or refresh shows) and, per
  pane, the time from its key (``1``, ``2``, ...: a key event posted as the terminal driver
  posts it) until the new pane has been painted; and the host's speed meanwhile (the CPU
  time of a fixed loop, every 0.2 s: :func:`_reference_ms`); the window is the ``seconds``
  after the console has loaded its 24 h history (slices of database aggregates between
  refreshes, a second or two at this size, on the same two cores), and the lag while it loads
  is reported apart;
* the first frame: a real ``harmony`` console process (read-only, under a pseudo-terminal of
  80x24) on the seeded schema, from its start until the tab line is on the terminal, and until
  the first machine row is;
* memory: peak RSS of this process.

Figures are reported, not asserted. The schema is dropped at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gc
import math
import os
import pty
import resource
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.harmonydb import DB, itest_db
from engine.harmonytask.builtin import burn_cpu
from engine.harmonytask.workers import ProcessPool
from engine.snapshot import SnapshotReader

__all__ = ["BenchSize", "run_console_bench"]


@dataclass(frozen=True)
class BenchSize:
    """The seeded cluster: ``scale`` 1 is the issue's size, 10 its ten-times case (a fraction
    makes the small cluster the bench's test runs on)."""

    scale: float = 1

    def _of(self, base: int) -> int:
        return max(1, round(base * self.scale))

    @property
    def machines(self) -> int:
        return self._of(100)

    @property
    def pending(self) -> int:
        return self._of(10_000)

    @property
    def history(self) -> int:
        return self._of(1_000_000)

    @property
    def sectors(self) -> int:
        return self._of(10_000)


# Parameters: $1 now, $2 machines, $3 pending tasks, $4 history rows, $5 sectors.
SEED = [
    """
INSERT INTO harmony_machines (id, host_and_port, cpu, ram, gpu, session, hostname, pid,
    last_contact, cpu_load, ram_used, unschedulable)
SELECT g, 'bench-' || g || ':worker', 64, 274877906944, g % 2, 's' || g, 'bench-' || g, g,
       $1::timestamptz - (g % 7) * interval '1 second', (g % 10) / 10.0, 68719476736,
       g % 25 = 0
  FROM generate_series(1, $2::int) AS g
""",
    """
INSERT INTO harmony_machine_details (machine_id, tasks, layers, startup_time, machine_name,
    version)
SELECT g, 'SDR,TreeD,TreeRC,PoRep,noop,burn', '', $1::timestamptz - interval '3 days',
       'bench-' || g, '0.1.0'
  FROM generate_series(1, $2::int) AS g
""",
    # The pending tasks, then 3 % as many running and 0.5 % failed.
    """
INSERT INTO harmony_task (id, name, posted_time, update_time, added_by, owner_id, claimed_at,
    attempt, failed_at, last_error)
SELECT g, (ARRAY['SDR', 'TreeD', 'TreeRC', 'PoRep', 'noop', 'burn', 'Finalize', 'MoveStorage',
               'PreCommitBatch', 'CommitBatch'])[1 + g % 10],
       $1::timestamptz - g * interval '1 second', $1, 1,
       CASE WHEN g > $3 AND g <= $3 * 1.03 THEN 1 + g % $2 END,
       CASE WHEN g > $3 AND g <= $3 * 1.03 THEN $1::timestamptz - interval '5 minutes' END,
       CASE WHEN g > $3 THEN 1 ELSE 0 END,
       CASE WHEN g > $3 * 1.03 THEN $1::timestamptz - interval '1 hour' END,
       CASE WHEN g > $3 * 1.03 THEN 'bench failure' END
  FROM generate_series(1, ($3 * 1.035)::int) AS g
""",
    # Attempts spread evenly over the last 24 hours, 1 % failed. Their task ids name no
    # sector, so the history trigger that links sealing attempts to their sector (one index
    # lookup per stage column, per row) is off while they are written: it would find nothing.
    "ALTER TABLE harmony_task_history DISABLE TRIGGER harmony_task_history_sector_events",
    """
INSERT INTO harmony_task_history (id, task_id, name, posted, work_start, work_end, result,
    err, completed_by_host_and_port, outcome, machine_id, attempt)
SELECT g, 100000000 + g, (ARRAY['SDR', 'TreeD', 'TreeRC', 'PoRep', 'noop', 'burn'])[1 + g % 6],
       e - interval '90 seconds', e - interval '30 seconds', e, g % 100 <> 0,
       CASE WHEN g % 100 = 0 THEN 'bench failure' END, 'bench-' || (1 + g % $2) || ':worker',
       CASE WHEN g % 100 = 0 THEN 'retry' ELSE 'done' END, 1 + g % $2, 1
  FROM generate_series(1, $4::int) AS g,
       LATERAL (SELECT $1::timestamptz - ($4 - g) * (interval '86400 seconds' / $4)) AS t (e)
""",
    "ALTER TABLE harmony_task_history ENABLE TRIGGER harmony_task_history_sector_events",
    # Sectors: 80 % finished, the rest spread over the stages.
    """
INSERT INTO sectors_sdr_pipeline (sp_id, sector_number, create_time, reg_seal_proof,
    task_id_sdr, after_sdr, after_tree_d, after_tree_c, after_tree_r, after_synth,
    precommit_ready_at, after_precommit_msg, after_precommit_msg_success, seed_epoch,
    after_porep, commit_ready_at, after_finalize, after_move_storage, after_commit_msg,
    after_commit_msg_success, failed)
SELECT 1000 + g % 2, g, $1::timestamptz - g * interval '10 seconds', 8,
       CASE WHEN s = 0 THEN 1 + g % $5 END,
       s >= 1, s >= 2, s >= 2, s >= 2, s >= 3, $1::timestamptz - interval '1 hour', s >= 4,
       s >= 5, 100000, s >= 6, $1::timestamptz - interval '30 minutes', s >= 6, s >= 7, s >= 7,
       s >= 7, g % 997 = 0
  FROM generate_series(1, $5::int) AS g,
       LATERAL (SELECT CASE WHEN g <= $5 * 0.8 THEN 7 ELSE g % 7 END) AS st (s)
""",
    """
INSERT INTO chain_config (id, profile, genesis_time, block_time, genesis_seed,
    wpost_proving_period, wpost_challenge_window, wpost_period_deadlines,
    wpost_challenge_lookback, fault_declaration_cutoff, precommit_challenge_delay,
    message_delay_epochs, chain_finality)
VALUES (1, 'mainnet', $1::timestamptz - interval '40 days', 30, '\\x00', 2880, 60, 48, 20, 70,
        150, 1, 900)
""",
    # A live chain has a head: its latest tipset (the console re-reads per-deadline counts
    # only when it moves).
    """
INSERT INTO chain_tipsets (epoch, beacon, created_at)
VALUES (floor(extract(epoch FROM interval '40 days') / 30)::bigint, '\\x01', $1::timestamptz)
""",
    """
INSERT INTO chain_miners (sp_id, sector_size, reg_seal_proof, proving_period_offset,
    created_epoch)
VALUES (1000, 34359738368, 8, 1234, 0), (1001, 34359738368, 8, 2000, 0)
""",
    """
INSERT INTO chain_sectors (sp_id, sector_number, state, sealed_cid, unsealed_cid,
    precommit_epoch, activation_epoch, deadline, "partition")
SELECT 1000 + g % 2, g, CASE WHEN g % 101 = 0 THEN 'faulty' ELSE 'active' END, 'c', 'u', 1, 2,
       g % 48, (g / 96) % 3
  FROM generate_series(1, $5::int) AS g
""",
    """
INSERT INTO storage_path (storage_id, urls, weight, can_seal, can_store, capacity,
    available, fs_available, last_heartbeat)
SELECT 'bench-path-' || g, 'file://bench-' || g || '/data', 10, g <= 2, g > 2,
       109951162777600, 54975581388800, 54975581388800, $1::timestamptz - interval '3 seconds'
  FROM generate_series(1, 10) AS g
""",
    """
INSERT INTO sector_location (miner_id, sector_num, sector_filetype, storage_id, is_primary)
SELECT 1000 + g % 2, g, ft, 'bench-path-' || (3 + g % 8), true
  FROM generate_series(1, $5::int) AS g, (VALUES (1), (2), (4)) AS f (ft)
""",
]

NEW_HISTORY = """
INSERT INTO harmony_task_history (id, task_id, name, posted, work_start, work_end, result,
    completed_by_host_and_port, outcome, machine_id, attempt)
SELECT $2 + g, $2 + g, 'noop', $1::timestamptz, $1::timestamptz, $1::timestamptz, true,
       'bench-1:worker', 'done', 1, 1
  FROM generate_series(1, $3) AS g
"""

#: the seed's own statements may run long (10M history rows); the console's keep their bound
SEED_STATEMENT_TIMEOUT = 3600.0


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "median": round(statistics.median(ordered), 2),
        "p95": round(p95, 2),
        "max": round(ordered[-1], 2),
        "n": len(ordered),
    }


#: steps of the fixed loop :func:`_reference_ms` times
REFERENCE_STEPS = 5_000
#: the longest the UI run waits for the console to load its 24 h history (10M rows: about 70 s)
LOADING_LIMIT_S = 600.0
#: the lag sampler times the reference loop every this many samples (about 0.2 s)
REFERENCE_EVERY = 20


def _reference_ms() -> float:
    """The CPU time of a fixed piece of pure Python: how fast this host runs the console's
    kind of code at this moment, so that two runs' lag and pane-switch figures can be compared.

    The same work does not take the same time here. On the 2-core virtual machine the figures
    in the README come from, this loop took 0.22 ms at some moments and 0.33-0.37 ms at
    others, seconds apart, with nothing else running (a loop 60 times as long: 25 or 48 ms,
    its CPU time equal to its wall time): the host, not this machine's load, sets the speed.
    A run's lag is only comparable with another's taken at a similar reference. CPU time, not
    wall time: being preempted by the busy workers is part of what the lag measures, not of
    the host's speed."""
    started = time.thread_time()
    total = 0
    for step in range(REFERENCE_STEPS):
        total += step * step
    return (time.thread_time() - started) * 1000


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return round(peak / 1024 / (1024 if sys.platform == "darwin" else 1), 1)


def _panes() -> dict[str, frozenset[str]]:
    """Every registered pane, in key order, with what its refresh reads: the detail lists it
    shows and its section (as the app asks for them)."""
    from .app import PANE_KINDS
    from .panes import PANE_TITLES

    return {
        pane: PANE_KINDS[pane].LISTS | ({PANE_KINDS[pane].SECTION} - {""})
        for pane in PANE_TITLES
        if pane in PANE_KINDS
    }


async def _seed(db: DB, now: datetime, size: BenchSize) -> dict[str, float]:
    """Seed the schema; seconds per table written, and in all."""
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    params = (now, size.machines, size.pending, size.history, size.sectors)
    for statement in SEED:
        began = time.perf_counter()
        # Numbered in the statement as $1..$n in the order of ``params``, renumbered to the
        # ones this statement uses (the server must know every parameter's type).
        used = [i for i in range(1, len(params) + 1) if f"${i}" in statement]
        text = statement
        for new, old in enumerate(used, start=1):
            text = text.replace(f"${old}", f"$__{new}")
        await db.exec(text.replace("$__", "$"), *(params[i - 1] for i in used))
        words = statement.split()
        if words[0] == "INSERT":
            seconds[words[2]] = round(time.perf_counter() - began, 2)
    began = time.perf_counter()
    await db.exec("ANALYZE")
    seconds["analyze"] = round(time.perf_counter() - began, 2)
    seconds["total"] = round(time.perf_counter() - started, 2)
    return seconds


async def _refresh_figures(
    db: DB, now: datetime, refreshes: int, size: BenchSize
) -> dict[str, Any]:
    reader = SnapshotReader(db)
    clock = now
    snap = await reader.snapshot(clock)
    first = {"db_ms": round(snap.db_ms, 2), "wall_ms": round(reader.last_wall_ms, 2)}
    slices: list[float] = []
    backfill_started = time.perf_counter()
    while reader.backfill_pending:
        slices.append(await reader.backfill_step())
    backfill_seconds = time.perf_counter() - backfill_started
    next_id = size.history + 1_000_000
    panes = _panes()
    default = next(iter(panes), "machines")
    runs: list[tuple[str, frozenset[str] | None]] = [("all_lists", None)]
    runs += [(f"pane:{pane}", lists) for pane, lists in panes.items()]
    figures: dict[str, dict[str, list[float]]] = {}
    statements: dict[str, int] = {}
    for label, lists in runs:
        db_ms: list[float] = []
        wall_ms: list[float] = []
        for i in range(3 + refreshes):  # three warm-up refreshes
            clock += timedelta(seconds=2)
            await db.exec(NEW_HISTORY, clock - timedelta(milliseconds=500), next_id, 200)
            next_id += 200
            snap = await reader.snapshot(clock, lists=lists)
            if i >= 3:
                db_ms.append(snap.db_ms)
                wall_ms.append(reader.last_wall_ms)
        figures[label] = {"db_ms": db_ms, "wall_ms": wall_ms}
        statements[label] = snap.statements
    return {
        "default_pane": default,
        "first_refresh_ms": first,
        "history_backfill": {
            "slices": len(slices),
            "slice_ms": _stats(slices) if slices else None,
            "seconds": round(backfill_seconds, 2),
        },
        "refresh_db_ms": {k: _stats(v["db_ms"]) for k, v in figures.items()},
        "refresh_wall_ms": {k: _stats(v["wall_ms"]) for k, v in figures.items()},
        "statements_per_refresh": statements,
        "history_24h_counted": snap.queues.done_24h + snap.queues.failed_24h,
        "rows": {
            "machines": len(snap.machines),
            "pending_tasks": snap.queues.pending,
            "sectors": snap.pipeline.done + snap.pipeline.in_progress,
        },
    }


async def _ui_figures(db: DB, seconds: float, workers: int) -> dict[str, Any]:
    from textual import events

    from engine.harmonytask.workers import prestart_worker_processes

    from .app import make_app

    prestart_worker_processes()
    app = make_app(
        db.url.dsn,
        db.schema,
        refresh_s=1.0,
        label="bench",
        animations=False,
        watchdog=False,
        migrate=False,
    )
    pool = ProcessPool(workers)
    collections = _CollectorPauses()
    lags: list[float] = []
    loading_lags: list[float] = []
    references: list[float] = []
    switches: dict[str, list[float]] = {}
    refreshes = 0
    #: the measured window ends ``seconds`` after the console has loaded its 24 h history
    window = {"stop": math.inf, "loaded_after": 0.0}

    def loading() -> bool:
        link = app.feed.link
        return link is not None and link.reader.backfill_pending

    async def sample_lag() -> None:
        loop = asyncio.get_running_loop()
        samples = 0
        while loop.time() < window["stop"]:
            before = loop.time()
            await asyncio.sleep(0.01)
            lag = (loop.time() - before - 0.01) * 1000
            (loading_lags if loading() else lags).append(lag)
            samples += 1
            if samples % REFERENCE_EVERY == 1:  # the first sample on
                references.append(_reference_ms())

    async def auto_pilot(pilot: Any) -> None:
        nonlocal refreshes
        await asyncio.wait_for(app.first_render.wait(), 120)
        # The load's workers are started before the measured window: a worker process starts
        # at the default priority and lowers it once it runs (a machine's workers start with
        # its engine), and two starting at the window's start had taken the CPU from the
        # first pane's paint (its step 40-70 ms against 20-30 ms for the same paint later).
        await asyncio.gather(*(pool.run(burn_cpu, 1) for _ in range(workers)))
        loop = asyncio.get_running_loop()
        began = loop.time()
        burning = [asyncio.create_task(_burn_until(pool, window)) for _ in range(workers)]
        sampler = asyncio.create_task(sample_lag())
        collections.start()
        seen = app.snapshot
        keys = [(str(i), pane) for i, pane in enumerate(_panes(), start=1)]
        i = 0
        # while the history loads, for the time asked after, and until every pane's key has
        # been measured once
        while loop.time() < window["stop"] or len(switches) < len(keys):
            if window["stop"] == math.inf:
                if not loading():
                    window["loaded_after"] = loop.time() - began
                    window["stop"] = loop.time() + seconds
                elif loop.time() - began > LOADING_LIMIT_S:
                    window["stop"] = 0.0  # the load and the sampler end
                    raise RuntimeError(f"the console's history took over {LOADING_LIMIT_S:g} s")
            await asyncio.sleep(0.3)
            if app.snapshot is not seen:
                refreshes += 1
                seen = app.snapshot
            # Key to screen: press the pane's key, wait until the new pane has been painted.
            key, pane = keys[i % len(keys)]
            if app.active_pane == pane:  # the first key names the pane already on screen
                i += 1
                key, pane = keys[i % len(keys)]
            # The key as the terminal delivers it (Pilot.press would also wait for the app to
            # go idle, which counts unrelated work such as a refresh arriving meanwhile).
            started = time.perf_counter()
            app.post_message(events.Key(key, key))
            while app.active_pane != pane:  # noqa: ASYNC110 - measuring, not waiting on I/O
                await asyncio.sleep(0.001)
            painted = asyncio.Event()
            app.call_after_refresh(painted.set)
            await painted.wait()
            switches.setdefault(pane, []).append((time.perf_counter() - started) * 1000)
            i += 1
        for task in burning:
            await task
        await sampler
        collections.stop()
        app.exit()

    try:
        await app.run_async(headless=True, size=(80, 24), auto_pilot=auto_pilot)
    finally:
        collections.stop()
        await pool.close()
    every = [ms for samples in switches.values() for ms in samples]
    return {
        "event_loop_lag_ms": _stats(lags),
        "event_loop_lag_loading_ms": _stats(loading_lags) if loading_lags else None,
        "history_loaded_after_s": round(window["loaded_after"], 2),
        "host_reference_ms": _stats(references) if references else None,
        "host_reference_steps": REFERENCE_STEPS,
        "pane_switch_ms": _stats(every) if every else None,
        "pane_switch_ms_by_pane": {pane: _stats(v) for pane, v in switches.items()},
        "gc_pauses_ms": collections.figures(),
        "refreshes_during_load": refreshes,
        "burn_workers": workers,
        "seconds": seconds,
    }


class _CollectorPauses:
    """The garbage collector's passes while the UI is measured, by generation: each is a pause
    of the event loop (the lag's figures include them; these say how much of it they are)."""

    NAMES = ("young", "middle", "full")

    def __init__(self) -> None:
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._began = 0.0

    def _observe(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.pauses[info["generation"]].append((time.perf_counter() - self._began) * 1000)

    def start(self) -> None:
        gc.callbacks.append(self._observe)

    def stop(self) -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._observe)

    def figures(self) -> dict[str, dict[str, float] | int]:
        return {
            name: _stats(self.pauses[generation]) if self.pauses[generation] else 0
            for generation, name in enumerate(self.NAMES)
        }


async def _burn_until(pool: ProcessPool, window: dict[str, float]) -> None:
    loop = asyncio.get_running_loop()
    while loop.time() < window["stop"]:
        await pool.run(burn_cpu, 500)


def _first_frame(
    url: str, schema: str, pycache: str, timeout: float = 60.0
) -> tuple[float, float] | None:
    """One console process under an 80x24 pseudo-terminal, read-only on ``schema``: seconds
    from its start until the tab line is on the terminal, and until a machine row is. The URL
    travels in the environment (never argv). None if it did not draw in time.

    Python's compiled modules are kept in ``pycache`` whatever the environment says: an
    installed harmony has them (pip compiles at install), and a shell with
    ``PYTHONDONTWRITEBYTECODE`` (this project's own sandbox has it) would otherwise time the
    compiling of every module at every start, a second of the first frame under load.
    """
    first_tab = next(iter(_panes_titles()), "Machines").encode()
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = dict(os.environ, HARMONY_DB_URL=url, TERM="xterm-256color", COLUMNS="80", LINES="24")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = pycache
    argv = [sys.executable, "-m", "console", "--schema", schema, "--read-only", "--no-demo"]
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdin=follower, stdout=follower, stderr=follower, env=env,
        close_fds=True, start_new_session=True,
    )  # fmt: skip
    os.close(follower)
    seen = b""
    frame = data = None
    try:
        while time.perf_counter() - started < timeout and data is None:
            ready, _, _ = select.select([leader], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            seen = (seen + chunk)[-200_000:]
            if frame is None and first_tab in seen:
                frame = time.perf_counter() - started
            if frame is not None and b"bench-1" in seen:
                data = time.perf_counter() - started
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        os.close(leader)
    if frame is None or data is None:
        return None
    return frame, data


def _panes_titles() -> list[str]:
    from .panes import PANE_TITLES

    return list(PANE_TITLES.values())


def _first_frames(url: str, schema: str, launches: int) -> dict[str, Any] | None:
    with tempfile.TemporaryDirectory(prefix="harmony-bench-pycache-") as pycache:
        # warm: the OS cache holds Python's modules, and pycache their compiled code
        _first_frame(url, schema, pycache)
        timed = (_first_frame(url, schema, pycache) for _ in range(launches))
        runs = [r for r in timed if r is not None]
    if not runs:
        return None
    return {
        "first_frame_s": _stats([r[0] for r in runs]),
        "first_data_s": _stats([r[1] for r in runs]),
    }


async def run_console_bench(
    url: str,
    schema: str | None = None,
    *,
    scale: float = 1,
    refreshes: int = 20,
    ui_seconds: float = 10.0,
    burn_workers: int = 2,
    launches: int = 5,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Seed, measure, drop. ``schema`` names the scratch schema (an ``itest_`` id); ``scale``
    multiplies the seeded size; ``launches`` console processes time the first frame (0: none).
    """
    say = progress or (lambda _: None)
    size = BenchSize(scale)
    itest_id = schema.removeprefix("itest_") if schema else None
    seed_db = await itest_db(url, itest_id, statement_timeout=SEED_STATEMENT_TIMEOUT)
    try:
        now = datetime.now(UTC)
        say(
            f"seeding {size.machines:,} machines, {size.pending:,} pending tasks, "
            f"{size.history:,} history rows, {size.sectors:,} sectors"
        )
        seeded = await _seed(seed_db, now, size)
        result: dict[str, Any] = {
            "server": seed_db.server_version.split(" on ")[0],
            "scale": scale,
            "seed_seconds": seeded,
        }
        # The console's own bounds: a statement over the default timeout fails here as it
        # would on screen.
        db = await DB.open(url, schema=seed_db.schema, migrate=False, create_schema=False)
        try:
            say("refresh figures")
            result.update(await _refresh_figures(db, now, refreshes, size))
            say("UI figures")
            result["ui"] = await _ui_figures(db, ui_seconds, burn_workers)
        finally:
            await db.close()
        if launches:
            say("first frame")
            result["first_frame"] = await asyncio.to_thread(
                _first_frames, url, seed_db.schema, launches
            )
        result["peak_rss_mb"] = _peak_rss_mb()
        return result
    finally:
        await seed_db.delete_all()
