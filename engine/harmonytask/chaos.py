"""``harmony bench chaos``: the exactly-once promise measured under the faults that break it.

K engine processes (each a production :class:`~.engine.TaskEngine`, see :mod:`.chaos_worker`)
work through a few thousand tasks while the benchmark does to them what machines and networks
do, at random (seeded) but never two faults at once to one machine:

* **SIGKILL** a machine; a supervisor starts it again (same name) half a second later, as
  systemd would;
* **SIGSTOP** it for 0.5–2.5 machine timeouts, then SIGCONT (a VM paused, a long GC, swap);
* **freeze** its link to the database for as long, every socket left open (a switch dropping
  packets), then thaw it;
* **sever** every connection it has (a NAT or load balancer forgetting flows);
* **lose replies**: all along, a share of the replies to every statement of every machine and
  of the adder is dropped *after the server executed it* (the connection then closed, or left
  silent so the client waits out its own timeout): claims, completions, heartbeats and COMMITs
  whose outcome the client cannot know;
* **restart the database** once, half way through the adds.

Faults reach the database side through :class:`~engine.faults.pgproxy.PgProxy`, one per machine
(and one for the adder). By default the benchmark runs a throwaway PostgreSQL of its own
(:class:`~engine.harmonydb.scratch_server.TcpPostgres`) so it may really restart it; with
``--db`` it uses that server in a scratch schema and, never restarting a server it does not
own, stands in for the restart by cutting every link and refusing new ones for a few seconds.

Tasks are added in keyed batches through the faulty link; an add whose outcome is unknown is
sent again with the same key until it is known, the recovery the CLI tells operators to use.
Afterwards the benchmark counts, from history, the queue and the machines' journals:

* **added**: distinct task ids the adds reported;
* **done once** / **done twice**: tasks with one / more than one ``done`` history row;
* **lost**: added, never done, and no longer in the queue;
* **stranded**: still in the queue when the run ended (the queue had ``--deadline`` seconds
  after the last add to empty);
* **not reported added**: tasks of the benchmark's type in the database that no add reported
  (an add applied twice);
* **side effect twice**: tasks whose side effect (made only when ``still_owned()`` said yes)
  happened in two attempts although no fault struck the first attempt's process meanwhile (a
  reply lost on its link counts as one: the process waits out its bound and may be declared
  dead); those a fault did strike are counted apart, at-least-once by design, and so are those
  whose first machine the cluster declared dead meanwhile with no fault to cause it (silent for
  a machine timeout all the same: a process starved of CPU on a loaded host);
* **longest wait**: for each fault, the tasks its machine was running when it struck, and how
  long until another process started each of them again (tasks the same process finished after
  a short fault waited no more than the fault itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.faults.pgproxy import PgProxy
from engine.harmonydb import DB, HarmonyDBError, itest_db
from engine.harmonydb.scratch_server import TcpPostgres

from .admin import add_tasks
from .chaos_worker import CHAOS_TASK, EXIT_NOT_STARTED
from .claims import AddOutcomeUnknown
from .settings import set_machine_timeout

#: the machine faults, drawn uniformly
MACHINE_FAULTS = ("kill", "stop", "freeze", "sever")


@dataclass(frozen=True)
class ChaosConfig:
    tasks: int = 3000
    engines: int = 3
    #: tasks per add (one transaction, one key)
    batch: int = 25
    #: the adds are spread evenly over this many seconds
    add_seconds: float = 60.0
    #: a machine fault every this many seconds (on average), from the first add until the
    #: queue is empty
    fault_every: float = 2.5
    #: the cluster's machine timeout for the run (heartbeats every second)
    machine_timeout: float = 5.0
    #: share of all replies dropped after the server executed the statement
    lost_replies: float = 0.004
    #: of those, the share that leave the client's socket open and silent
    hung_share: float = 0.25
    #: how long one task's work takes, seconds (uniform)
    work: tuple[float, float] = (0.05, 0.4)
    #: seconds after the last add for the queue to empty
    deadline: float = 240.0
    seed: int = 1


@dataclass
class Fault:
    kind: str
    machine: str | None
    start: float
    end: float
    pids: tuple[int, ...] = ()


@dataclass
class ChaosReport:
    server: str
    config: dict[str, Any]
    seconds: float = 0.0
    faults: dict[str, int] = field(default_factory=dict)
    replies_lost: int = 0
    replies_hung: int = 0
    adds: int = 0
    adds_unknown: int = 0
    adds_failed_and_resent: int = 0
    #: the adder's link failed to open (a reply lost while it opened) and was opened again
    adder_opens_failed: int = 0
    added: int = 0
    done_once: int = 0
    done_twice: int = 0
    lost: int = 0
    stranded: int = 0
    not_reported_added: int = 0
    #: a second attempt made the side effect although no fault had struck the first
    side_effect_twice: int = 0
    #: a second attempt made it after a fault struck the first one's machine between its start
    #: and the second effect (between its ownership check and its effect, or before its outcome
    #: was recorded) (by design: the cluster cannot know the effect was
    #: made; such effects must be idempotent, or made in the transaction that records the task)
    side_effect_again_after_fault: int = 0
    #: a second attempt made it after the cluster declared the first one's machine dead (no
    #: heartbeat for a machine timeout) with no fault injected: silent all the same, by design
    side_effect_again_after_silence: int = 0
    #: machines declared dead during the run (``machine-dead`` events), with or without a fault
    declared_dead: int = 0
    #: for each of ``side_effect_twice``, who made it and when (seconds into the run), so a
    #: failed run says where to look in the journal and the machines' logs
    unexplained_effects: list[str] = field(default_factory=list)
    reruns_after_fault: int = 0
    longest_wait_s: float = 0.0
    longest_wait_by_fault: dict[str, float] = field(default_factory=dict)
    machine_starts: int = 0
    machine_exits: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def kept_the_promise(self) -> bool:
        return (
            self.done_once == self.added
            and not self.done_twice
            and not self.lost
            and not self.stranded
            and not self.not_reported_added
            and not self.side_effect_twice
        )


class _Machine:
    """One engine process behind its own proxy, restarted whenever it exits (until the end)."""

    def __init__(self, name: str, proxy: PgProxy, url: str, schema: str, work_dir: Path) -> None:
        self.name, self.proxy, self.url, self.schema = name, proxy, url, schema
        self.work_dir = work_dir
        self.proc: asyncio.subprocess.Process | None = None
        self.pids: list[int] = []
        self.exits: Counter[str] = Counter()
        self.busy = False  # a fault is being applied to it
        self.stopping = False

    async def _start(self, cfg: ChaosConfig) -> asyncio.subprocess.Process:
        log = os.open(self.work_dir / f"{self.name}.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            return await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "engine.harmonytask.chaos_worker",
                self.schema,
                self.name,
                str(self.work_dir / "journal"),
                str(cfg.work[0]),
                str(cfg.work[1]),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
                env=dict(os.environ, HARMONY_BENCH_DSN=self.proxy.url(self.url)),
                start_new_session=True,  # a terminal's ^C reaches the benchmark only
            )
        finally:
            os.close(log)

    async def supervise(self, cfg: ChaosConfig) -> None:
        while not self.stopping:
            self.proc = await self._start(cfg)
            self.pids.append(self.proc.pid)
            code = await self.proc.wait()
            self.exits[_describe_exit(code)] += 1
            if not self.stopping:
                await asyncio.sleep(1.0 if code == EXIT_NOT_STARTED else 0.5)

    def signal(self, sig: signal.Signals) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, sig)

    async def stop(self) -> None:
        self.stopping = True
        self.proxy.thaw()
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        if self.proc is not None:
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.signal(signal.SIGKILL)
                await self.proc.wait()


def _describe_exit(code: int) -> str:
    if code < 0:
        return signal.Signals(-code).name
    return f"exit {code}"


class _Run:
    def __init__(
        self,
        cfg: ChaosConfig,
        db: DB,
        url: str,
        restart_db: Callable[[], None] | None,
        work_dir: Path,
        progress: Callable[[str], None],
    ) -> None:
        self.cfg, self.db, self.url, self.restart_db = cfg, db, url, restart_db
        self.work_dir, self.progress = work_dir, progress
        self.rng = random.Random(cfg.seed)
        self.began_at = time.time()
        self.proxies: list[PgProxy] = []
        self.machines: list[_Machine] = []
        self.faults: list[Fault] = []
        self.added: set[int] = set()
        self.adding_done = asyncio.Event()
        self.applying: set[asyncio.Task[None]] = set()
        self.report_counts: Counter[str] = Counter()

    async def proxy(self) -> PgProxy:
        proxy = PgProxy.for_url(self.url)
        await proxy.start()
        seed = self.rng.randrange(1 << 30)
        lost, hung = self.cfg.lost_replies, self.cfg.hung_share
        proxy.drop_reply("", count=None, probability=lost * (1 - hung), seed=seed)
        proxy.drop_reply("", count=None, probability=lost * hung, after="hang", seed=seed + 1)
        self.proxies.append(proxy)
        return proxy

    # ------------------------------------------------------------------ the adder

    async def add_all(self) -> None:
        cfg = self.cfg
        try:
            adder = await self._open_adder(await self.proxy())
            try:
                batches = math.ceil(cfg.tasks / cfg.batch)
                begin = time.monotonic()
                for i in range(batches):
                    await asyncio.sleep(
                        max(0.0, begin + i * cfg.add_seconds / batches - time.monotonic())
                    )
                    count = min(cfg.batch, cfg.tasks - i * cfg.batch)
                    self.added.update(await self._add_known(adder, count))
                    self.report_counts["adds"] += 1
            finally:
                await adder.close()
        finally:
            self.adding_done.set()

    async def _open_adder(self, proxy: PgProxy) -> DB:
        """The adder's link, opened again until it opens: its link loses replies like every
        other, and one lost while it opens must not end the run (the machines' supervisor
        starts them again for the same reason). Gives up after ``deadline`` seconds."""
        give_up = time.monotonic() + self.cfg.deadline
        while True:
            try:
                return await DB.open(
                    proxy.url(self.url),
                    schema=self.db.schema,
                    migrate=False,
                    application_name="harmony bench chaos adder",
                )
            except HarmonyDBError:
                if time.monotonic() > give_up:
                    raise
                self.report_counts["adder_opens_failed"] += 1
            await asyncio.sleep(0.5)

    async def _add_known(self, adder: DB, count: int) -> list[int]:
        """One keyed add, sent again under the same key until its outcome is known (or, after
        ``deadline`` seconds of failing, the run fails: the database is gone)."""
        key = f"chaos-{self.rng.randrange(1 << 62):x}"
        give_up = time.monotonic() + self.cfg.deadline
        while True:
            try:
                return await add_tasks(adder, CHAOS_TASK, count, key=key)
            except HarmonyDBError as exc:
                unknown = isinstance(exc, AddOutcomeUnknown)
                self.report_counts["adds_unknown" if unknown else "adds_failed_and_resent"] += 1
                if time.monotonic() > give_up:
                    raise HarmonyDBError(
                        f"an add was sent for {self.cfg.deadline:g} s under one key and its "
                        f"outcome is still not known: {exc}"
                    ) from exc
            await asyncio.sleep(0.5)

    # ------------------------------------------------------------------ faults

    async def make_faults(self) -> None:
        cfg = self.cfg
        restart_at = time.monotonic() + cfg.add_seconds / 2
        restarted = False
        while True:
            await asyncio.sleep(self.rng.expovariate(1 / cfg.fault_every))
            if self.adding_done.is_set() and await self._queue_empty():
                return
            if not restarted and time.monotonic() >= restart_at:
                restarted = True
                await self._restart_database()
                continue
            free = [m for m in self.machines if not m.busy]
            if free:
                machine = self.rng.choice(free)
                kind = self.rng.choice(MACHINE_FAULTS)
                machine.busy = True
                applying = asyncio.create_task(self._machine_fault(machine, kind))
                self.applying.add(applying)
                applying.add_done_callback(self.applying.discard)

    async def _machine_fault(self, machine: _Machine, kind: str) -> None:
        cfg = self.cfg
        pids = (machine.proc.pid,) if machine.proc is not None else ()
        # Recorded as it strikes, its end set when it ends: a stop or freeze still held when
        # the queue empties (the run then cancels it) struck all the same, and what its
        # machine's tasks went through (run again elsewhere) is counted against it.
        fault = Fault(kind, machine.name, time.time(), time.time(), pids)
        self.faults.append(fault)
        try:
            if kind == "kill":
                machine.signal(signal.SIGKILL)
            elif kind == "sever":
                machine.proxy.sever()
            else:
                hold = self.rng.uniform(0.5, 2.5) * cfg.machine_timeout
                if kind == "stop":
                    machine.signal(signal.SIGSTOP)
                else:
                    machine.proxy.freeze()
                try:
                    await asyncio.sleep(hold)
                finally:
                    machine.signal(signal.SIGCONT)
                    machine.proxy.thaw()
                    fault.end = time.time()
            await asyncio.sleep(1.0)  # let it come back before the next fault on it
        finally:
            machine.busy = False

    async def _restart_database(self) -> None:
        pids = tuple(m.proc.pid for m in self.machines if m.proc is not None)
        fault = Fault("restart", None, time.time(), time.time(), pids)
        self.faults.append(fault)  # as it strikes (see _machine_fault)
        try:
            if self.restart_db is not None:
                self.progress("restarting the database server")
                await asyncio.to_thread(self.restart_db)
            else:
                self.progress(
                    "cutting every link to the database for 3 s (stands in for a restart)"
                )
                for proxy in self.proxies:
                    proxy.refusing = True
                    proxy.sever()
                try:
                    await asyncio.sleep(3.0)
                finally:
                    for proxy in self.proxies:
                        proxy.refusing = False
        finally:
            fault.end = time.time()

    async def _queue_empty(self) -> bool:
        try:
            return not await self.db.query_value(
                "SELECT EXISTS (SELECT 1 FROM harmony_task WHERE name = $1)", CHAOS_TASK
            )
        except HarmonyDBError:
            return False  # the database is restarting

    async def wait_done(self, adder: asyncio.Task[None]) -> None:
        """Until the queue is empty after the last add, for at most ``deadline`` seconds; at
        once when the adder failed (the caller raises its error)."""
        await asyncio.wait([adder])
        if adder.cancelled() or adder.exception() is not None:
            return
        deadline = time.monotonic() + self.cfg.deadline
        # The queue is in another process's hands: there is no event to wait on, only rows.
        while time.monotonic() < deadline and not await self._queue_empty():  # noqa: ASYNC110
            await asyncio.sleep(0.5)


async def run_chaos_bench(
    url: str | None,
    cfg: ChaosConfig = ChaosConfig(),
    progress: Callable[[str], None] = lambda _: None,
    keep: Path | None = None,
) -> ChaosReport:
    """Run the benchmark on ``url`` (None: a throwaway server of its own) and report. With
    ``keep``, the machines' logs and the journal are left in that directory."""
    server: TcpPostgres | None = None
    if url is None:
        progress("starting a throwaway PostgreSQL server")
        server = await asyncio.to_thread(TcpPostgres)
        url = server.url
    if keep is not None:
        await asyncio.to_thread(keep.mkdir, parents=True, exist_ok=True)
    work_dir = keep or Path(tempfile.mkdtemp(prefix="harmony-chaos-"))
    db: DB | None = None
    try:
        db = await itest_db(url, application_name="harmony bench chaos")
        version = str(await db.query_value("SELECT version()")).split(" on ")[0]
        report = ChaosReport(
            server=f"{version} ({'throwaway server' if server else 'scratch schema'})",
            config=asdict(cfg),
        )
        await set_machine_timeout(db, cfg.machine_timeout)
        run = _Run(cfg, db, url, server.restart if server else None, work_dir, progress)
        began = time.monotonic()
        supervisors = []
        for i in range(cfg.engines):
            machine = _Machine(f"chaos-{i}", await run.proxy(), url, db.schema, work_dir)
            run.machines.append(machine)
            supervisors.append(asyncio.create_task(machine.supervise(cfg)))
        progress(
            f"{cfg.engines} engines, {cfg.tasks} tasks over {cfg.add_seconds:g} s, a fault every "
            f"~{cfg.fault_every:g} s, {cfg.lost_replies:.1%} of replies lost"
        )
        adder = asyncio.create_task(run.add_all())
        faults = asyncio.create_task(run.make_faults())
        try:
            await run.wait_done(adder)
            await adder
        finally:
            adder.cancel()
            for applying in [faults, *run.applying]:
                applying.cancel()
            await asyncio.gather(faults, *run.applying, return_exceptions=True)
            await asyncio.gather(*(m.stop() for m in run.machines))
            for task in supervisors:
                task.cancel()
            await asyncio.gather(*supervisors, return_exceptions=True)
            for proxy in run.proxies:
                await proxy.close()
        report.seconds = time.monotonic() - began
        if keep is not None:
            (keep / "faults.json").write_text(json.dumps([asdict(f) for f in run.faults]))
        progress(f"run ended after {report.seconds:.0f} s; counting")
        await _count(report, run, db, work_dir / "journal")
        return report
    finally:
        if db is not None:
            with contextlib.suppress(HarmonyDBError):
                await db.delete_all()
            await db.close()
        if server is not None:
            await asyncio.to_thread(server.destroy)
        if keep is None:
            shutil.rmtree(work_dir, ignore_errors=True)


async def _count(report: ChaosReport, run: _Run, db: DB, journal: Path) -> None:
    report.faults = dict(Counter(f.kind for f in run.faults))
    for proxy in run.proxies:
        for rule in proxy.rules:
            if rule.after == "hang":
                report.replies_hung += rule.fired
            report.replies_lost += rule.fired
    report.adds = run.report_counts["adds"]
    report.adds_unknown = run.report_counts["adds_unknown"]
    report.adds_failed_and_resent = run.report_counts["adds_failed_and_resent"]
    report.adder_opens_failed = run.report_counts["adder_opens_failed"]
    report.added = len(run.added)
    report.machine_starts = sum(len(m.pids) for m in run.machines)
    exits: Counter[str] = Counter()
    for machine in run.machines:
        exits.update(machine.exits)
    report.machine_exits = dict(exits)

    done = Counter(
        int(r["task_id"])
        for r in await db.select(
            "SELECT task_id FROM harmony_task_history WHERE name = $1 AND outcome = 'done'",
            CHAOS_TASK,
        )
    )
    queued = {
        int(r["id"])
        for r in await db.select("SELECT id FROM harmony_task WHERE name = $1", CHAOS_TASK)
    }
    seen = (
        set(done)
        | queued
        | {
            int(r["task_id"])
            for r in await db.select(
                "SELECT DISTINCT task_id FROM harmony_task_history WHERE name = $1", CHAOS_TASK
            )
        }
    )
    report.done_once = sum(1 for t in run.added if done[t] == 1)
    report.done_twice = sum(1 for t in run.added if done[t] > 1)
    report.stranded = len(run.added & queued)
    report.lost = sum(1 for t in run.added if not done[t] and t not in queued)
    report.not_reported_added = len(seen - run.added)

    starts, ends, effects = _read_journal(journal)
    # A lost reply is a fault too: its machine waits out its bound, may miss heartbeats for it
    # and be declared dead, and its tasks run again elsewhere. Each counts from its drop for a
    # machine timeout, on every process of the machine behind that proxy.
    lost = [
        Fault("lost-reply", m.name, at, at + run.cfg.machine_timeout, tuple(m.pids))
        for m in run.machines
        for rule in m.proxy.rules
        for at in rule.dropped_at
    ]
    # When the cluster declared each machine dead (the reaping peer's clock: this host's).
    dead: dict[str, list[float]] = defaultdict(list)
    for row in await db.select(
        "SELECT machine, extract(epoch FROM at)::float8 AS at FROM cluster_events "
        "WHERE kind = 'machine-dead'"
    ):
        dead[row["machine"]].append(row["at"])
    report.declared_dead = sum(map(len, dead.values()))
    names = {p: m.name for m in run.machines for p in m.pids}
    for task_id, made in effects.items():
        if len(made) < 2:
            continue
        (pid, first), (_, second) = made[0], made[1]
        began = min(t for p, t in starts[task_id] if p == pid and t <= first)
        struck = any(
            pid in f.pids and f.start <= second and f.end >= began for f in (*run.faults, *lost)
        )
        if struck:
            report.side_effect_again_after_fault += 1
        elif any(began <= t <= second for t in dead[names.get(pid, "")]):
            report.side_effect_again_after_silence += 1
        else:
            report.side_effect_twice += 1
            at = [f"{names.get(p, '?')} (pid {p}) at {t - run.began_at:.2f} s" for p, t in made]
            report.unexplained_effects.append(
                f"task {task_id}: attempt began {began - run.began_at:.2f} s; made by "
                + ", then by ".join(at)
            )
    waits: dict[str, float] = defaultdict(float)
    reruns = 0
    for fault in run.faults:
        for task_id, runs in starts.items():
            for pid, started in runs:
                if pid not in fault.pids or started > fault.start:
                    continue
                if any(t <= fault.start for t in ends.get((task_id, pid), [])):
                    continue  # that attempt had ended before the fault
                later = [t for p, t in runs if p != pid and t > fault.start]
                if later:
                    reruns += 1
                    waits[fault.kind] = max(waits[fault.kind], min(later) - fault.start)
    report.reruns_after_fault = reruns
    report.longest_wait_by_fault = {k: round(v, 2) for k, v in sorted(waits.items())}
    report.longest_wait_s = round(max(waits.values(), default=0.0), 2)


def _read_journal(
    path: Path,
) -> tuple[
    dict[int, list[tuple[int, float]]],
    dict[tuple[int, int], list[float]],
    dict[int, list[tuple[int, float]]],
]:
    """Starts by task (pid, time), ends by (task, pid), and each task's side effects (pid,
    time), in time order (an attempt makes it at most once)."""
    starts: dict[int, list[tuple[int, float]]] = defaultdict(list)
    ends: dict[tuple[int, int], list[float]] = defaultdict(list)
    effects: dict[int, list[tuple[int, float]]] = defaultdict(list)
    if not path.exists():
        return starts, ends, effects
    for line in path.read_text().splitlines():
        kind, task, pid, at = line.split()
        task_id, process, when = int(task), int(pid), float(at)
        if kind == "S":
            starts[task_id].append((process, when))
        elif kind == "D":
            ends[(task_id, process)].append(when)
        elif kind == "E":
            effects[task_id].append((process, when))
    for made in effects.values():
        made.sort(key=lambda m: m[1])
    return starts, ends, effects
