"""The devnet chain: epoch clock, beacon, message pool, miner actors, PoSt deadline arithmetic.

Public API::

    config, created = await init_chain(db, DEVNET)          # once per cluster
    config = await load_chain(db)                           # or require_chain(db)
    miner = await create_miner(db, config, 2048, epoch=config.epoch_at(now))
    async with db.begin() as tx:                            # a message, in the sender's tx
        sent = await send_message(tx, config, miner.sp_id, PRE_COMMIT_SECTOR, params, epoch=e)
        await tx.commit()
    result = await advance_chain(db, config, target_epoch)  # what the ChainTick task does
    service = ChainService(db, clock)                       # per process; clock: engine.clock
    info = await proving_info(db, config, 1000, epoch)      # what `proving info` shows
"""

from engine.lazy import lazy_exports

__all__ = lazy_exports(
    __name__,
    {
        "actor": [
            "LIVE_STATES",
            "PROVABLE_STATES",
            "Receipt",
            "interactive_randomness",
            "post_randomness",
            "seal_randomness",
        ],
        "advance": [
            "AdvanceResult",
            "LandedMessage",
            "advance_chain",
            "busy_deadlines",
        ],
        "assignment": [
            "DeadlineLoad",
            "assign_deadlines",
            "deadline_is_mutable",
        ],
        "beacon": [
            "BeaconCache",
            "Dst",
            "draw_randomness",
            "miner_entropy",
            "next_beacon",
        ],
        "cids": [
            "object_cid",
        ],
        "config": [
            "DEFAULT_EXPECTED_WINNERS",
            "ChainConfig",
            "genesis_from_epoch",
            "init_chain",
            "load_chain",
            "require_chain",
        ],
        "deadlines": [
            "DeadlineInfo",
            "current_proving_period_start",
            "deadline_info_from_offset",
            "id_address_bytes",
            "new_deadline_info",
            "proving_period_offset",
            "quantize_down",
            "quantize_up",
        ],
        "epochs": [
            "EpochClock",
        ],
        "expiration": [
            "ExpirationInvalid",
            "SectorPolicy",
            "choose_expiration",
            "sector_policy",
            "validate_expiration",
        ],
        "errors": [
            "ChainConfigConflict",
            "ChainError",
            "ChainNotInitialised",
            "UnknownMiner",
        ],
        "messages": [
            "DECLARE_FAULTS",
            "DECLARE_FAULTS_RECOVERED",
            "METHODS",
            "PRE_COMMIT_SECTOR",
            "PROVE_COMMIT_SECTOR",
            "SUBMIT_WINDOWED_POST",
            "ExitCode",
            "SentMessage",
            "send_message",
        ],
        "miners": [
            "FIRST_MINER_ID",
            "Miner",
            "create_miner",
            "get_miner",
            "list_miners",
            "parse_miner",
        ],
        "profiles": [
            "DEVNET",
            "MAINNET",
            "PROFILES",
            "ChainProfile",
        ],
        "proving": [
            "DeadlineRow",
            "ProvingInfo",
            "proving_deadlines",
            "proving_info",
        ],
        "service": [
            "ChainService",
        ],
        "task": [
            "CHAIN_TICK",
            "ChainTick",
        ],
    },
)
