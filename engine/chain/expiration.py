"""Sector expirations: the lifetime policy, the expiration a PreCommit carries, its checks.

As in builtin-actors (``miner`` actor, ``policy.rs`` and ``validate_expiration``):

* a PreCommit names the sector's expiration epoch; it must leave the sector at least
  ``MinSectorExpiration`` (180 days) of life after its latest possible activation (the
  PreCommit's epoch + ``MaxProveCommitDuration``, 30 days + the seed delay), and be at most
  ``MaxSectorExpirationExtension`` (1278 days) past the current epoch;
* the expiration is kept in the sector's deadline's expiration queue, quantized to the end of
  that deadline: the cron at the end of the sector's deadline whose last epoch is at or after the
  expiration removes it from its partition's live sectors (it joins Terminated), whether it was
  active or faulty then (an on-time expiration, no termination fee), so from then on no
  WindowPoSt proves it and it has no power.

The devnet keeps Filecoin's day-based policy in its own days, a day being one proving period
(:attr:`ChainProfile.epochs_per_day`): 180 devnet days are 86,400 epochs (48 hours of 2 s
epochs). A chain created with a profile that sets the policy in epochs (tests: a lifetime of a
few deadlines) keeps it in its ``chain_config`` row.

The miner chooses the expiration as Curio's PreCommit task does
(``tasks/seal/task_submit_precommit.go``): the ticket epoch + ``MaxSectorExpirationExtension``,
or + the sector's ``user_sector_duration_epochs``, raised to the least the chain accepts (the
ticket epoch + ``MaxPreCommitRandomnessLookback`` + ``MaxProveCommitDuration`` +
``MinSectorExpiration``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .profiles import ChainProfile

__all__ = [
    "MAX_EXTENSION_DAYS",
    "MAX_PROVE_COMMIT_DAYS",
    "MIN_EXPIRATION_DAYS",
    "ExpirationInvalid",
    "SectorPolicy",
    "choose_expiration",
    "expiry_close",
    "sector_policy",
    "validate_expiration",
]

#: Filecoin's MinSectorExpiration: 180 days
MIN_EXPIRATION_DAYS = 180
#: Filecoin's MaxSectorExpirationExtension (network version 21 on): 1278 days
MAX_EXTENSION_DAYS = 1278
#: Filecoin's MaxProveCommitDuration: 30 days (+ the PreCommit challenge delay)
MAX_PROVE_COMMIT_DAYS = 30


@dataclass(frozen=True)
class SectorPolicy:
    """A chain's sector lifetime policy, in epochs."""

    min_expiration: int
    max_extension: int
    max_prove_commit: int
    #: Filecoin's MaxPreCommitRandomnessLookback: one day + chain finality
    max_ticket_age: int


def sector_policy(profile: ChainProfile) -> SectorPolicy:
    """The profile's policy: its own epochs where it sets them, else Filecoin's in its days."""
    day = profile.epochs_per_day

    def pick(value: int | None, default: int) -> int:
        return default if value is None else value

    return SectorPolicy(
        min_expiration=pick(profile.min_sector_expiration, MIN_EXPIRATION_DAYS * day),
        max_extension=pick(profile.max_sector_expiration_extension, MAX_EXTENSION_DAYS * day),
        max_prove_commit=pick(
            profile.max_prove_commit_duration,
            MAX_PROVE_COMMIT_DAYS * day + profile.precommit_challenge_delay,
        ),
        max_ticket_age=profile.wpost_proving_period + profile.chain_finality,
    )


class ExpirationInvalid(ValueError):
    """A PreCommit's expiration the chain refuses (the reason, as builtin-actors words it)."""


def validate_expiration(profile: ChainProfile, epoch: int, expiration: int) -> None:
    """builtin-actors' check at PreCommit (``epoch``), assuming the latest activation."""
    policy = sector_policy(profile)
    activation = epoch + policy.max_prove_commit
    if expiration <= activation:
        raise ExpirationInvalid(
            f"expiration {expiration} must be after the latest activation {activation}"
        )
    if expiration - activation < policy.min_expiration:
        raise ExpirationInvalid(
            f"invalid expiration {expiration}, total sector lifetime "
            f"({expiration - activation}) must exceed {policy.min_expiration} after "
            f"activation {activation}"
        )
    if expiration > epoch + policy.max_extension:
        raise ExpirationInvalid(
            f"invalid expiration {expiration}, cannot be more than {policy.max_extension} "
            f"past current epoch {epoch}"
        )


def choose_expiration(profile: ChainProfile, ticket_epoch: int, duration: int | None) -> int:
    """The expiration Curio puts in a CC sector's PreCommit (see the module docstring)."""
    policy = sector_policy(profile)
    expiration = ticket_epoch + (duration if duration else policy.max_extension)
    least = ticket_epoch + policy.max_ticket_age + policy.max_prove_commit + policy.min_expiration
    return max(expiration, least)


def expiry_close(profile: ChainProfile, expiration: int, deadline_close: int) -> int:
    """The close epoch of the sector's deadline at whose cron an ``expiration`` is processed:
    the first close of that deadline after the expiration epoch (the expiration quantized to
    the deadline's last epoch, as the expiration queue keeps it). ``deadline_close`` is any
    close of the sector's deadline."""
    period = profile.wpost_proving_period
    # the first close c with c > expiration and c = deadline_close (mod period)
    return expiration + 1 + (deadline_close - expiration - 1) % period
