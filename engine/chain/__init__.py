"""The devnet chain: epoch clock, beacon, message pool, miner actors, PoSt deadline arithmetic.

Public API::

    config, created = await init_chain(db, DEVNET)          # once per cluster
    config = await load_chain(db)                           # or require_chain(db)
    miner = await create_miner(db, config, 2048, epoch=config.epoch_at(now))
    async with db.begin() as tx:                            # a message, in the sender's tx
        sent = await send_message(tx, config, miner.sp_id, PRE_COMMIT_SECTOR, params, epoch=e)
        await tx.commit()
    result = await advance_chain(db, config, target_epoch)  # what the ChainTick task does
    service = ChainService(db, clock)                       # per process: epochs, beacons, ticks
    info = await proving_info(db, config, 1000, epoch)      # what `proving info` shows
"""

from .actor import (
    LIVE_STATES,
    PROVABLE_STATES,
    Receipt,
    interactive_randomness,
    post_randomness,
    seal_randomness,
)
from .advance import AdvanceResult, LandedMessage, advance_chain, busy_deadlines
from .assignment import DeadlineLoad, assign_deadlines, deadline_is_mutable
from .beacon import BeaconCache, Dst, draw_randomness, miner_entropy, next_beacon
from .cids import object_cid
from .clock import ChainClock, ManualClock, SystemClock
from .config import (
    DEFAULT_EXPECTED_WINNERS,
    ChainConfig,
    genesis_from_epoch,
    init_chain,
    load_chain,
    require_chain,
)
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
from .errors import ChainConfigConflict, ChainError, ChainNotInitialised, UnknownMiner
from .messages import (
    DECLARE_FAULTS,
    DECLARE_FAULTS_RECOVERED,
    METHODS,
    PRE_COMMIT_SECTOR,
    PROVE_COMMIT_SECTOR,
    SUBMIT_WINDOWED_POST,
    ExitCode,
    SentMessage,
    send_message,
)
from .miners import FIRST_MINER_ID, Miner, create_miner, get_miner, list_miners, parse_miner
from .profiles import DEVNET, MAINNET, PROFILES, ChainProfile
from .proving import DeadlineRow, ProvingInfo, proving_deadlines, proving_info
from .service import ChainService
from .task import CHAIN_TICK, ChainTick

__all__ = [
    "CHAIN_TICK",
    "DECLARE_FAULTS",
    "DECLARE_FAULTS_RECOVERED",
    "DEFAULT_EXPECTED_WINNERS",
    "DEVNET",
    "FIRST_MINER_ID",
    "LIVE_STATES",
    "MAINNET",
    "METHODS",
    "PRE_COMMIT_SECTOR",
    "PROFILES",
    "PROVABLE_STATES",
    "PROVE_COMMIT_SECTOR",
    "SUBMIT_WINDOWED_POST",
    "AdvanceResult",
    "BeaconCache",
    "ChainClock",
    "ChainConfig",
    "ChainConfigConflict",
    "ChainError",
    "ChainNotInitialised",
    "ChainProfile",
    "ChainService",
    "ChainTick",
    "DeadlineInfo",
    "DeadlineLoad",
    "DeadlineRow",
    "Dst",
    "EpochClock",
    "ExitCode",
    "LandedMessage",
    "ManualClock",
    "Miner",
    "ProvingInfo",
    "Receipt",
    "SentMessage",
    "SystemClock",
    "UnknownMiner",
    "advance_chain",
    "assign_deadlines",
    "busy_deadlines",
    "create_miner",
    "current_proving_period_start",
    "deadline_info_from_offset",
    "deadline_is_mutable",
    "draw_randomness",
    "genesis_from_epoch",
    "get_miner",
    "id_address_bytes",
    "init_chain",
    "interactive_randomness",
    "list_miners",
    "load_chain",
    "miner_entropy",
    "new_deadline_info",
    "next_beacon",
    "object_cid",
    "parse_miner",
    "post_randomness",
    "proving_deadlines",
    "proving_info",
    "proving_period_offset",
    "quantize_down",
    "quantize_up",
    "require_chain",
    "seal_randomness",
    "send_message",
]
