"""Chain state from a Lotus node for the Curio read model: head, network, and per miner its
proving deadline, the sector counts of its 48 deadlines and its power.

Curio keeps no chain state of its own beyond what its tasks record (``sectors_meta`` is crawled
every 15 minutes by the SectorMetadata task), so deadlines, faults, recoveries and power come
from the Lotus node Curio itself uses. The figures are read the way Curio's GUI reads them
(``web/api/webrpcporep/actor_summary.go`` ``getDeadlines``: ``StateMinerDeadlines``, then
``StateMinerPartitions`` of every deadline, counting the partitions' bitfields, at the
heaviest tipset).

:class:`ChainWatch` follows the node in the background so that a console refresh never waits
for it: :meth:`ChainWatch.latest` returns at once with the last state read (with its age, and
the last failure if the node stopped answering), and starts a refresh when one is due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from engine.chain import ChainProfile
from engine.chain.profiles import MAINNET
from engine.lotus import (
    ApiInfo,
    DeadlineInfo,
    Endpoint,
    LotusClient,
    LotusError,
    LotusRPCError,
)
from engine.lotus.errors import redact

__all__ = [
    "DEFAULT_CALL_TIMEOUT",
    "DEFAULT_INTERVAL",
    "ChainState",
    "ChainWatch",
    "MinerChain",
    "MinerDeadline",
    "PartitionCounts",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds between refreshes: half a mainnet epoch, so a new head shows within one.
DEFAULT_INTERVAL = 15.0
#: Seconds one Lotus call may take (a healthy node answers in milliseconds).
DEFAULT_CALL_TIMEOUT = 5.0
#: Lotus calls in flight at once per refresh (48 StateMinerPartitions per miner).
DEFAULT_CONCURRENCY = 8


@dataclass(frozen=True)
class PartitionCounts:
    """One partition of ``StateMinerPartitions``: the sizes of its bitfields.

    As on chain: live = all − terminated; faulty ⊆ live and includes the recovering sectors
    (a sector stays faulty until a proof includes it); active = live − faulty − unproven.
    """

    all: int
    live: int
    active: int
    faulty: int
    recovering: int


@dataclass(frozen=True)
class MinerDeadline:
    """One of a miner's deadlines: its partitions and the partitions proven so far in its
    current challenge window (``PostSubmissions``: only the open deadline's can be non-empty;
    the chain clears it when the deadline closes)."""

    index: int
    partitions: tuple[PartitionCounts, ...]
    post_submissions: int

    @property
    def live_partitions(self) -> int:
        """Partitions holding live sectors (what ``proving deadlines`` counts)."""
        return sum(1 for p in self.partitions if p.live > 0)

    @property
    def live(self) -> int:
        return sum(p.live for p in self.partitions)

    @property
    def active(self) -> int:
        return sum(p.active for p in self.partitions)

    @property
    def faulty(self) -> int:
        return sum(p.faulty for p in self.partitions)

    @property
    def recovering(self) -> int:
        return sum(p.recovering for p in self.partitions)


@dataclass(frozen=True)
class MinerChain:
    """What Lotus said about one miner (``error`` set: the node answered, but not for it, e.g.
    an actor unknown on this network; the other fields are then empty)."""

    sp_id: int
    sector_size: int | None = None
    #: ``StateMinerProvingDeadline``: the deadline open at the head (or the next one)
    deadline: DeadlineInfo | None = None
    deadlines: tuple[MinerDeadline, ...] = ()
    #: ``StateMinerPower``: raw-byte and quality-adjusted bytes, and whether it meets the
    #: consensus minimum (may win blocks)
    raw_power: int | None = None
    qa_power: int | None = None
    has_min_power: bool | None = None
    error: str | None = None

    @property
    def faulty(self) -> int:
        return sum(d.faulty for d in self.deadlines)

    @property
    def recovering(self) -> int:
        return sum(d.recovering for d in self.deadlines)

    @property
    def live(self) -> int:
        return sum(d.live for d in self.deadlines)


@dataclass(frozen=True)
class ChainState:
    """What Lotus said at one moment.

    ``read_at`` is when the figures were read (the last refresh that succeeded); ``error``,
    when set, says in one line (never with the token) why the last refresh failed: the figures
    are then the last good ones, ``age`` seconds old (none at all before the first success).
    """

    network: str | None = None
    head_epoch: int | None = None
    #: the head tipset's timestamp
    head_time: datetime | None = None
    #: seconds per epoch (``Version``'s ``BlockDelay``)
    block_delay: float | None = None
    read_at: datetime | None = None
    miners: tuple[MinerChain, ...] = ()
    error: str | None = None
    #: when the last refresh (good or failed) ended
    tried_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.read_at is not None

    @property
    def has_data(self) -> bool:
        return self.read_at is not None

    def age(self, now: datetime) -> float | None:
        """Seconds since the figures were read (None: never read)."""
        if self.read_at is None:
            return None
        return max(0.0, (now - self.read_at).total_seconds())

    def miner(self, sp_id: int) -> MinerChain | None:
        return next((m for m in self.miners if m.sp_id == sp_id), None)

    @property
    def address_prefix(self) -> str | None:
        """``f0`` on mainnet, ``t0`` on every other network (Lotus builds for any network but
        mainnet use the testnet address prefix); None while the network is unknown."""
        if self.network is None:
            return None
        return "f0" if self.network == "mainnet" else "t0"

    @property
    def genesis(self) -> datetime | None:
        """When epoch 0 began: Filecoin timestamps are genesis + height × block delay (null
        rounds included), so the head's timestamp gives it exactly."""
        if self.head_time is None or self.head_epoch is None or not self.block_delay:
            return None
        return self.head_time - timedelta(seconds=self.head_epoch * self.block_delay)

    def profile(self) -> ChainProfile | None:
        """The network's PoSt constants as Lotus reports them (with a miner's proving
        deadline: they come with ``StateMinerProvingDeadline``), so the PoSt pane's epoch
        clock and deadline arithmetic run on the node's own figures. The sealing constants a
        ``ChainProfile`` also carries (PreCommit challenge delay, finality, message delay) are
        not in that answer: they are mainnet's, and nothing reading PoSt uses them."""
        info = next((m.deadline for m in self.miners if m.deadline is not None), None)
        if info is None or not self.block_delay:
            return None
        return ChainProfile(
            name=self.network or "unknown network",
            block_time=float(self.block_delay),
            wpost_challenge_window=info.wpost_challenge_window,
            wpost_period_deadlines=info.wpost_period_deadlines,
            wpost_challenge_lookback=info.wpost_challenge_lookback,
            fault_declaration_cutoff=info.fault_declaration_cutoff,
            precommit_challenge_delay=MAINNET.precommit_challenge_delay,
            message_delay_epochs=MAINNET.message_delay_epochs,
            chain_finality=MAINNET.chain_finality,
        )


@dataclass
class _Cache:
    """Facts that never change for a node: its network, epoch length, a miner's sector size."""

    network: str | None = None
    block_delay: float | None = None
    sector_sizes: dict[int, int] = field(default_factory=dict)


class ChainWatch:
    """Follows a Lotus node in the background (see the module docstring).

    Args:
        endpoint: the node (:func:`engine.lotus.resolve_endpoint`'s first answer, or an
            :class:`~engine.lotus.ApiInfo`).
        interval: seconds between refreshes.
        call_timeout: seconds one Lotus call may take.
        refresh_timeout: seconds a whole refresh may take (default: four calls' worth).
        concurrency: Lotus calls in flight at once.
        clock: the wall clock :meth:`refresh` stamps its figures with when not given ``now``.
    """

    def __init__(
        self,
        endpoint: Endpoint | ApiInfo,
        *,
        interval: float = DEFAULT_INTERVAL,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        refresh_timeout: float | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not (interval > 0 and call_timeout > 0 and concurrency > 0):
            raise ValueError("interval, call_timeout and concurrency must be positive")
        self.info = endpoint.info if isinstance(endpoint, Endpoint) else endpoint
        self.interval = interval
        self.call_timeout = call_timeout
        self.refresh_timeout = refresh_timeout or 4 * call_timeout
        self.concurrency = concurrency
        self.clock = clock
        self._client = LotusClient(self.info, timeout=call_timeout)
        self._miners: tuple[int, ...] = ()
        self._state: ChainState | None = None
        self._cache = _Cache()
        self._task: asyncio.Task[ChainState] | None = None
        self._started_at: datetime | None = None
        #: the miners followed changed since the last refresh began: refresh at the next call
        self._due = True
        self._closed = False

    # ------------------------------------------------------------------ the console's side

    @property
    def miners(self) -> tuple[int, ...]:
        return self._miners

    def latest(self, now: datetime) -> ChainState | None:
        """The last state read (None before the first refresh ended); never waits for Lotus.
        Starts a refresh in the background when the last one began ``interval`` seconds ago
        or the miners followed changed, unless one is running."""
        if not self._closed and self._refresh_due(now):
            self._start(now)
        return self._state

    def follow(self, miners: Iterable[int]) -> None:
        """Which miners (actor ids) each refresh reads; a change makes the next
        :meth:`latest` refresh at once."""
        wanted = tuple(sorted({int(m) for m in miners}))
        if wanted != self._miners:
            self._miners = wanted
            self._due = True

    async def refresh(self, now: datetime | None = None) -> ChainState:
        """Read the node now and wait for it (the first paint, tests); joins a refresh already
        running rather than starting a second one."""
        if self._closed:
            raise RuntimeError("this ChainWatch is closed")
        if self._task is None or self._task.done():
            self._start(now or self.clock())
        assert self._task is not None
        return await asyncio.shield(self._task)

    async def close(self) -> None:
        """Cancel a refresh in flight and close the client."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._client.close()

    # ------------------------------------------------------------------ refreshing

    def _refresh_due(self, now: datetime) -> bool:
        if self._task is not None and not self._task.done():
            return False
        if self._due or self._started_at is None:
            return True
        elapsed = (now - self._started_at).total_seconds()
        # a clock that went back (or jumped far ahead) is due as well
        return elapsed >= self.interval or elapsed < 0

    def _start(self, now: datetime) -> None:
        self._started_at = now
        self._due = False
        # One refresh at a time; the reference keeps the task alive until it is replaced.
        self._task = asyncio.get_running_loop().create_task(
            self._refresh(now, self._miners), name="curio-chain-refresh"
        )

    async def _refresh(self, now: datetime, miners: tuple[int, ...]) -> ChainState:
        try:
            async with asyncio.timeout(self.refresh_timeout):
                state = await self._read(now, miners)
        except TimeoutError:
            state = self._failed(
                now,
                f"Lotus API at {self.info.url} did not answer within {self.refresh_timeout:g} s",
            )
        except LotusError as exc:
            state = self._failed(now, str(exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug here must not end the watch: say it, keep going
            log.exception("reading chain state from the Lotus API at %s failed", self.info.url)
            state = self._failed(now, f"{type(exc).__name__}: {exc}")
        if not self._closed:
            self._state = state
        return state

    def _failed(self, now: datetime, message: str) -> ChainState:
        line = _one_line(redact(message, self.info.token)) or "the Lotus API failed"
        last = self._state or ChainState()
        return replace(last, error=line, tried_at=now)

    async def _read(self, now: datetime, miners: tuple[int, ...]) -> ChainState:
        lotus = self._client
        if self._cache.network is None:
            self._cache.network = await lotus.state_network_name()
        if self._cache.block_delay is None:
            self._cache.block_delay = float((await lotus.version()).block_delay)
        head = await lotus.chain_head()
        gate = asyncio.Semaphore(self.concurrency)
        read = await asyncio.gather(*(self._read_miner(sp, gate) for sp in miners))
        stamp = head.timestamp
        return ChainState(
            network=self._cache.network,
            head_epoch=head.height,
            head_time=None if stamp is None else datetime.fromtimestamp(stamp, UTC),
            block_delay=self._cache.block_delay,
            read_at=now,
            miners=tuple(read),
            error=None,
            tried_at=now,
        )

    async def _read_miner(self, sp_id: int, gate: asyncio.Semaphore) -> MinerChain:
        """One miner at the heaviest tipset (the empty key, as Curio's GUI reads it): the head
        may move between the calls of a refresh, which the next refresh catches up on; a
        pinned key would be refused by a node that keeps no older state (the devnet)."""
        lotus = self._client

        async def call(make: Callable[[], Awaitable[T]]) -> T:
            async with gate:
                return await make()

        try:
            if sp_id not in self._cache.sector_sizes:
                info = await call(lambda: lotus.state_miner_info(sp_id))
                self._cache.sector_sizes[sp_id] = info.sector_size
            deadline = await call(lambda: lotus.state_miner_proving_deadline(sp_id))
            deadlines = await call(lambda: lotus.state_miner_deadlines(sp_id))
            power = await call(lambda: lotus.state_miner_power(sp_id))
            partitions = await asyncio.gather(
                *(
                    call(lambda i=i: lotus.state_miner_partitions(sp_id, i))
                    for i in range(len(deadlines))
                )
            )
        except LotusRPCError as exc:
            if exc.code != 1:
                raise  # the node is unreachable or refuses us: the whole refresh failed
            # the node answered, not for this miner (an actor unknown on this network)
            return MinerChain(sp_id, error=_one_line(redact(str(exc), self.info.token)))
        return MinerChain(
            sp_id=sp_id,
            sector_size=self._cache.sector_sizes[sp_id],
            deadline=deadline,
            deadlines=tuple(
                MinerDeadline(
                    index=i,
                    partitions=tuple(
                        PartitionCounts(
                            all=p.all_sectors.count(),
                            live=p.live_sectors.count(),
                            active=p.active_sectors.count(),
                            faulty=p.faulty_sectors.count(),
                            recovering=p.recovering_sectors.count(),
                        )
                        for p in parts
                    ),
                    post_submissions=d.post_submissions.count(),
                )
                for i, (d, parts) in enumerate(zip(deadlines, partitions, strict=True))
            ),
            raw_power=power.miner_power.raw_byte_power,
            qa_power=power.miner_power.quality_adj_power,
            has_min_power=power.has_min_power,
        )


def _one_line(text: str) -> str:
    text = text.strip()
    return text.splitlines()[0] if text else ""
