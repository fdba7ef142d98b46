"""Remote sector reads across real hosts (network namespaces, each its own hostname and IP).

Host A holds real 2 KiB sectors on a path only it has; it and host B both reach a shared
directory (NFS-like) with a larger sealed file. Each runs ``harmony run --engine-only
--storage-listen <its bridge IP>:0``, so /remote is reached over the bridge, not loopback.
A prover on host B proves A's sectors (vanilla proofs made on A, verified on B); a mover on
host C moves the shared sector to C's store, and A's worker is SIGKILLed while C is reading
from it: the move carries on from B and the file arrives whole, with no temp left on C; B's
next proof of A's sectors is a fault naming A's URL, not a hang or a wrong proof.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

from engine.harmonydb import DB
from engine.proofs.sizes import SECTOR_2KIB
from engine.storage import SectorFileType, declare_sector, sector_file_path
from engine.storage.sectors import find_sector
from support.netns_cluster import harmony_worker, worker_env
from support.probe import PATIENCE, wait_until
from support.sealed import seal_into

FT = SectorFileType
MINER, BIG = 1000, 9
BIG_SIZE = 32 << 20  # more than the sockets buffer: a kill lands mid-body
RAND = hashlib.sha256(b"netns window post randomness").digest()

PROVER = textwrap.dedent(
    """
    import asyncio, json, os, socket, sys
    from engine.harmonydb import DB
    from engine.proofs.post import verify_window_post
    from engine.proofs.sizes import SECTOR_2KIB, WINDOW_POST_CHALLENGES
    from engine.tasks.window.files import PartitionSector, locate, prove_elsewhere

    async def main():
        miner, rand = int(sys.argv[1]), bytes.fromhex(sys.argv[2])
        sectors = [PartitionSector(n, cid, "active") for n, cid in json.loads(sys.argv[3])]
        db = await DB.open(os.environ["HARMONY_DB_URL"], schema=os.environ["HARMONY_SCHEMA"],
                           migrate=False, max_size=2)
        host = socket.gethostname()
        print("ready", flush=True)
        while sys.stdin.readline():
            present, faults = await locate(db, host, miner, sectors)
            proofs, left = await prove_elsewhere(
                db, host, miner, sectors, faults, rand, WINDOW_POST_CHALLENGES)
            listed = [(s.sector_number, s.comm_r) for s in sectors]
            whole = not left and verify_window_post(
                listed, rand, sorted(proofs, key=lambda p: p.sector_id), SECTOR_2KIB)
            print(json.dumps({"local": [s.sector_number for s in present],
                              "proven": sorted(p.sector_id for p in proofs), "verified": whole,
                              "faults": [[f.sector_id, f.kind, f.detail] for f in left]}),
                  flush=True)

    asyncio.run(main())
    """
)

MOVER = textwrap.dedent(
    """
    import asyncio, json, os, sys
    from engine.harmonydb import DB
    from engine.storage import SectorFileType, move_sector

    async def main():
        miner, sector, dest = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
        db = await DB.open(os.environ["HARMONY_DB_URL"], schema=os.environ["HARMONY_SCHEMA"],
                           migrate=False, max_size=2)
        print("ready", flush=True)
        sys.stdin.readline()
        paused = []

        def hold(step, n):  # the first bytes are in: wait (reading nothing) for the kill
            if step == "copying" and not paused:
                paused.append(n)
                print(json.dumps({"copying": n}), flush=True)
                sys.stdin.readline()

        try:
            [moved] = await move_sector(
                db, miner, sector, SectorFileType.SEALED, dest=dest, on_step=hold)
            print(json.dumps({"moved": str(moved.path), "bytes": moved.bytes}), flush=True)
        except Exception as exc:
            print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)

    asyncio.run(main())
    """
)


class Snippet:
    """A Python snippet running on a host, spoken to a line at a time: every answer awaited
    at most ``ANSWER_S`` (a reader thread takes its output; log lines are kept, not parsed)."""

    ANSWER_S = 60.0

    def __init__(self, host: Any, db: DB, tmp_path: Path, code: str, *args: str) -> None:
        script = tmp_path / f"snippet-{host.name}.py"
        script.write_text(code)
        self.proc = host.spawn(
            [sys.executable, str(script), *args],
            env=worker_env(host, db),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd="/",
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.said: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put("")  # end of output

    def next_line(self, accept: Any) -> str:
        deadline = time.monotonic() + self.ANSWER_S * PATIENCE
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None or line == "":
                self.proc.kill()
                why = "no answer in time" if line is None else "it exited"
                raise AssertionError(f"snippet: {why}; it said:\n{''.join(self.said)}")
            self.said.append(line)
            if accept(line):
                return line

    def ask(self, line: str = "go") -> dict[str, Any]:
        """Send a line; its JSON answer."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return json.loads(self.next_line(lambda out: out.startswith("{")))

    def ready(self) -> None:
        self.next_line(lambda out: out.strip() == "ready")

    def close(self) -> None:
        """End it (its input closed: it exits; else killed) and close its pipes."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.reader.join(timeout=10)
        self.proc.stdout.close()


def stop(worker: subprocess.Popen[str]) -> None:
    if worker.poll() is None:
        worker.kill()
    worker.communicate(timeout=30)  # and its pipe closed


async def test_sectors_on_a_proven_from_b_moved_to_c_with_a_killed_mid_read(
    db: DB, netns_cluster, attach_dir, write_file, tmp_path: Path
) -> None:
    cluster = netns_cluster(["a", "b", "c"])
    a, b, c = (cluster.host(n) for n in "abc")
    await db.exec(
        "INSERT INTO chain_miners (sp_id, sector_size, reg_seal_proof, proving_period_offset, "
        "created_epoch) VALUES ($1, $2, 0, 0, 0)",
        MINER,
        SECTOR_2KIB,
    )
    only_a = await attach_dir("only-a", host=a.hostname, can_store=True)
    sectors = [seal_into(only_a.local_path, n, MINER) for n in (1, 2)]
    for s in sectors:
        for ft in (FT.SEALED, FT.CACHE):
            await declare_sector(
                db, only_a.storage_id, MINER, s.sector_number, ft, sector_size=SECTOR_2KIB
            )
    shared = await attach_dir("shared", host=a.hostname, can_store=True)
    await attach_dir("shared", host=b.hostname)
    big = sector_file_path(shared.local_path, FT.SEALED, MINER, BIG)
    big_sha = hashlib.sha256(write_file(big, BIG_SIZE)).hexdigest()
    await declare_sector(db, shared.storage_id, MINER, BIG, FT.SEALED, sector_size=BIG_SIZE)
    store_c = await attach_dir("store-c", host=c.hostname, can_store=True)

    workers = {
        h.name: harmony_worker(h, db, "--tasks", "noop", "--storage-listen", f"{h.ip}:0")
        for h in (a, b)
    }
    listed = json.dumps([[s.sector_number, s.sealed_cid] for s in sectors])
    prover = Snippet(b, db, tmp_path, PROVER, str(MINER), RAND.hex(), listed)
    mover = Snippet(c, db, tmp_path, MOVER, str(MINER), str(BIG), store_c.storage_id)

    try:

        async def serving() -> dict[str, str]:
            for name, proc in workers.items():
                if proc.poll() is not None:
                    raise AssertionError(f"worker on {name} exited:\n{proc.communicate()[0]}")
            rows = await db.select("SELECT hostname, url FROM storage_servers")
            return {r["hostname"]: r["url"] for r in rows}

        await wait_until(lambda: _both(serving), 60, "the storage servers of hosts a and b")
        urls = await serving()
        for h in (a, b):  # on its bridge IP (not loopback, not 0.0.0.0)
            assert urls[h.hostname].startswith(f"http://{h.ip}:")
            assert urls[h.hostname].endswith("/remote")
        prover.ready()
        mover.ready()

        # B proves A's partition whole: each vanilla proof made on A, sent over the bridge.
        got = prover.ask()
        assert got == {"local": [], "proven": [1, 2], "verified": True, "faults": []}

        # C moves the shared sector; the host C reads from first is killed mid-body.
        [loc] = await find_sector(db, MINER, BIG, FT.SEALED, host=c.hostname)
        assert loc.urls == [urls[a.hostname], urls[b.hostname]]  # by hostname: A is read first
        paused = mover.ask()
        assert 0 < paused["copying"] < BIG_SIZE
        workers["a"].send_signal(signal.SIGKILL)
        assert workers["a"].wait(timeout=30) == -signal.SIGKILL
        moved = mover.ask("continue")
        final = sector_file_path(store_c.local_path, FT.SEALED, MINER, BIG)
        assert moved == {"moved": str(final), "bytes": BIG_SIZE}
        assert hashlib.sha256(final.read_bytes()).hexdigest() == big_sha
        assert [p.name for p in (store_c.local_path / "sealed").iterdir()] == [final.name]
        [loc] = await find_sector(db, MINER, BIG, FT.SEALED, host=c.hostname)
        assert loc.storage_id == store_c.storage_id and loc.local_path == final
        assert not big.exists()  # B removed the undeclared source
        assert await db.query_value("SELECT count(*) FROM storage_moves") == 0

        # A is gone: B's proof of its sectors is a visible fault naming A's URL, for each.
        got = prover.ask()
        assert got["proven"] == [] and not got["verified"]
        assert [(n, kind) for n, kind, _ in got["faults"]] == [(1, "unreadable"), (2, "unreadable")]
        assert all(urls[a.hostname] in detail for _, _, detail in got["faults"])
    finally:
        for one in (prover, mover):
            one.close()
        for worker in workers.values():
            stop(worker)


async def _both(serving: Any) -> bool:
    return len(await serving()) == 2
