"""Chain profiles: the epoch clock and PoSt constants of a mainnet-like and a devnet chain.

The devnet profile scales the window, not the formulas: the same deadline arithmetic runs with
a shorter challenge window and 2-second epochs, so a demo's deadlines open every 20 seconds
instead of every 30 minutes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChainProfile:
    name: str
    #: seconds per epoch
    block_time: float
    #: epochs per deadline (mainnet 60 = 30 minutes)
    wpost_challenge_window: int
    #: deadlines per proving period (48 everywhere)
    wpost_period_deadlines: int
    #: challenge randomness is drawn this many epochs before a deadline opens (mainnet 20)
    wpost_challenge_lookback: int
    #: faults must be declared this many epochs before a deadline opens (mainnet 70)
    fault_declaration_cutoff: int
    #: PreCommit landing -> seed ("wait seed"), mainnet 150 epochs
    precommit_challenge_delay: int
    #: a message sent at epoch e executes at e + this (the devnet's stand-in for inclusion)
    message_delay_epochs: int
    #: epochs after which the chain cannot reorganise (mainnet 900)
    chain_finality: int
    #: the sector lifetime policy, in epochs; None: Filecoin's in this profile's days (see
    #: :func:`engine.chain.expiration.sector_policy`). Tests set short ones.
    min_sector_expiration: int | None = None
    max_sector_expiration_extension: int | None = None
    max_prove_commit_duration: int | None = None

    @property
    def wpost_proving_period(self) -> int:
        return self.wpost_challenge_window * self.wpost_period_deadlines

    @property
    def epochs_per_day(self) -> int:
        """Filecoin's day is one proving period (2880 epochs); the devnet scales its day with
        its proving period (480 epochs, 16 minutes), so day-based policies keep their shape."""
        return self.wpost_proving_period

    @property
    def deadline_seconds(self) -> float:
        return self.wpost_challenge_window * self.block_time


MAINNET = ChainProfile(
    name="mainnet",
    block_time=30.0,
    wpost_challenge_window=60,
    wpost_period_deadlines=48,
    wpost_challenge_lookback=20,
    fault_declaration_cutoff=70,
    precommit_challenge_delay=150,
    message_delay_epochs=1,
    chain_finality=900,
)

DEVNET = ChainProfile(
    name="devnet",
    block_time=2.0,
    wpost_challenge_window=10,
    wpost_period_deadlines=48,
    wpost_challenge_lookback=3,
    fault_declaration_cutoff=12,
    precommit_challenge_delay=10,
    message_delay_epochs=2,
    chain_finality=20,
)

PROFILES = {p.name: p for p in (DEVNET, MAINNET)}
