"""The devnet chain: epoch clock, PoSt deadline arithmetic, profiles."""

from .deadlines import (
    DeadlineInfo,
    current_proving_period_start,
    deadline_info_from_offset,
    id_address_bytes,
    new_deadline_info,
    proving_period_offset,
    quantize_down,
    quantize_up,
)
from .epochs import EpochClock
from .profiles import DEVNET, MAINNET, PROFILES, ChainProfile

__all__ = [
    "DEVNET",
    "MAINNET",
    "PROFILES",
    "ChainProfile",
    "DeadlineInfo",
    "EpochClock",
    "current_proving_period_start",
    "deadline_info_from_offset",
    "id_address_bytes",
    "new_deadline_info",
    "proving_period_offset",
    "quantize_down",
    "quantize_up",
]
