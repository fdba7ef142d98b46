"""The cluster's one chain: its profile, genesis and beacon seed (the ``chain_config`` row).

A chain is created once per cluster (``harmony chain init`` or the demo) and never changes, so
every process may cache it for its lifetime. The row keeps every PoSt constant of the profile:
a chain created with a custom profile (tests use faster epochs) behaves the same on every node.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .epochs import EpochClock
from .errors import ChainConfigConflict, ChainNotInitialised
from .profiles import DEVNET, MAINNET, ChainProfile

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx

__all__ = [
    "DEFAULT_EXPECTED_WINNERS",
    "ChainConfig",
    "init_chain",
    "load_chain",
    "require_chain",
]

#: Expected block winners per epoch, by profile (Filecoin: 5). With one devnet miner holding all
#: the power, 0.05 wins one block every ~20 epochs: visible in a console, cheap for the database.
DEFAULT_EXPECTED_WINNERS = {DEVNET.name: 0.05, MAINNET.name: 5.0}


@dataclass(frozen=True)
class ChainConfig:
    profile: ChainProfile
    genesis_time: datetime
    genesis_seed: bytes
    expected_winners: float

    @property
    def clock(self) -> EpochClock:
        return EpochClock(self.genesis_time, self.profile)

    def epoch_at(self, when: datetime) -> int:
        return self.clock.epoch_at(when)

    def time_of(self, epoch: int) -> datetime:
        return self.clock.time_of(epoch)

    @property
    def max_ticket_age(self) -> int:
        """Oldest sealing ticket a PreCommit may use (Filecoin's MaxPreCommitRandomnessLookback
        = one proving period + ChainFinality: 2880 + 900 on mainnet)."""
        return self.profile.wpost_proving_period + self.profile.chain_finality

    @property
    def seal_randomness_lookback(self) -> int:
        """How far behind the head a sealing ticket is drawn (Curio: ChainFinality)."""
        return self.profile.chain_finality

    @property
    def fault_max_age(self) -> int:
        """A sector faulty this long is terminated (Filecoin: 42 proving periods)."""
        return 42 * self.profile.wpost_proving_period

    @property
    def winning_post_lookback(self) -> int:
        """Sectors are eligible for WinningPoSt once active this long (ChainFinality)."""
        return self.profile.chain_finality


_SELECT = """
SELECT profile, genesis_time, block_time, genesis_seed, wpost_challenge_window,
       wpost_period_deadlines, wpost_challenge_lookback, fault_declaration_cutoff,
       precommit_challenge_delay, message_delay_epochs, chain_finality, expected_winners,
       min_sector_expiration, max_sector_expiration_extension, max_prove_commit_duration
  FROM chain_config WHERE id = 1
"""


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def profile_from_row(row: dict[str, Any]) -> ChainProfile:
    """The chain profile stored in a ``chain_config`` row (the sector lifetime policy only
    where the row was read with it: absent or NULL means the profile's default)."""
    return ChainProfile(
        name=str(row["profile"]),
        block_time=float(row["block_time"]),
        wpost_challenge_window=int(row["wpost_challenge_window"]),
        wpost_period_deadlines=int(row["wpost_period_deadlines"]),
        wpost_challenge_lookback=int(row["wpost_challenge_lookback"]),
        fault_declaration_cutoff=int(row["fault_declaration_cutoff"]),
        precommit_challenge_delay=int(row["precommit_challenge_delay"]),
        message_delay_epochs=int(row["message_delay_epochs"]),
        chain_finality=int(row["chain_finality"]),
        min_sector_expiration=_optional_int(row.get("min_sector_expiration")),
        max_sector_expiration_extension=_optional_int(row.get("max_sector_expiration_extension")),
        max_prove_commit_duration=_optional_int(row.get("max_prove_commit_duration")),
    )


def _from_row(row: dict[str, Any]) -> ChainConfig:
    profile = profile_from_row(row)
    return ChainConfig(
        profile=profile,
        genesis_time=row["genesis_time"],
        genesis_seed=bytes(row["genesis_seed"]),
        expected_winners=float(row["expected_winners"]),
    )


async def load_chain(db: DB | Tx) -> ChainConfig | None:
    """The cluster's chain, or None if none was created yet."""
    row = await db.query_row(_SELECT)
    return None if row is None else _from_row(row)


async def require_chain(db: DB | Tx) -> ChainConfig:
    config = await load_chain(db)
    if config is None:
        raise ChainNotInitialised()
    return config


async def init_chain(
    db: DB,
    profile: ChainProfile = DEVNET,
    *,
    block_time: float | None = None,
    genesis: datetime | None = None,
    seed: bytes | None = None,
    expected_winners: float | None = None,
) -> tuple[ChainConfig, bool]:
    """Create the chain if there is none; returns ``(config, created)``.

    Safe when several processes race (one row, ``id = 1``). When a chain already exists the
    explicit settings must match it, else :class:`ChainConfigConflict`.

    Args:
        profile: the PoSt constants; ``block_time`` overrides the profile's epoch length.
        genesis: when epoch 0 begins (default: now, rounded down to the second).
        seed: start of the beacon hash chain (default: 32 random bytes).
    """
    if block_time is not None:
        if not (block_time > 0 and math.isfinite(block_time)):
            raise ValueError("block time must be a positive number of seconds")
        profile = ChainProfile(**{**profile.__dict__, "block_time": float(block_time)})
    if genesis is None:
        genesis = datetime.now(UTC).replace(microsecond=0)
    elif genesis.tzinfo is None:
        raise ValueError("genesis time must be timezone-aware")
    winners = (
        expected_winners
        if expected_winners is not None
        else DEFAULT_EXPECTED_WINNERS.get(profile.name, 5.0)
    )
    if winners <= 0:
        raise ValueError("expected winners per epoch must be positive")
    created = await db.exec(
        "INSERT INTO chain_config (id, profile, genesis_time, block_time, genesis_seed, "
        "wpost_proving_period, wpost_challenge_window, wpost_period_deadlines, "
        "wpost_challenge_lookback, fault_declaration_cutoff, precommit_challenge_delay, "
        "message_delay_epochs, chain_finality, expected_winners, min_sector_expiration, "
        "max_sector_expiration_extension, max_prove_commit_duration) "
        "VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) "
        "ON CONFLICT (id) DO NOTHING",
        profile.name,
        genesis,
        profile.block_time,
        seed or secrets.token_bytes(32),
        profile.wpost_proving_period,
        profile.wpost_challenge_window,
        profile.wpost_period_deadlines,
        profile.wpost_challenge_lookback,
        profile.fault_declaration_cutoff,
        profile.precommit_challenge_delay,
        profile.message_delay_epochs,
        profile.chain_finality,
        winners,
        profile.min_sector_expiration,
        profile.max_sector_expiration_extension,
        profile.max_prove_commit_duration,
    )
    config = await require_chain(db)
    if created:
        await db.notify("chain", "c")
        return config, True
    wanted = {
        "profile": (config.profile.name, profile.name),
        "block time": (config.profile.block_time, profile.block_time),
    }
    if seed is not None:
        wanted["seed"] = (config.genesis_seed.hex(), seed.hex())
    if expected_winners is not None:
        wanted["expected winners"] = (config.expected_winners, expected_winners)
    diffs = [f"{k} is {have!r}, not {want!r}" for k, (have, want) in wanted.items() if have != want]
    if diffs:
        raise ChainConfigConflict(
            f"this cluster already has a chain (genesis {config.genesis_time.isoformat()}): "
            + "; ".join(diffs)
        )
    return config, False


def genesis_from_epoch(profile: ChainProfile, epoch: int, now: datetime | None = None) -> datetime:
    """A genesis time that makes ``now`` fall at the start of ``epoch`` (tests, demos)."""
    now = now or datetime.now(UTC)
    return now - timedelta(seconds=epoch * profile.block_time)
