-- The storage-provider workload's own bookkeeping, on top of the chain, sealing and PoSt tables
-- (files 03-05). Re-runnable: every statement is IF NOT EXISTS.

-- WinningPoSt lottery: a miner wins an epoch when H(election ticket) / 2^256 is below
-- power_share * expected_winners (Filecoin's expected leaders per epoch is 5; a devnet with one
-- miner uses a fraction so that blocks are won every few dozen seconds, not every epoch).
ALTER TABLE chain_config ADD COLUMN IF NOT EXISTS expected_winners DOUBLE PRECISION NOT NULL
    DEFAULT 5;

-- Sector numbers handed out per miner (Curio keeps a bitfield in sectors_allocated_numbers; a
-- counter is enough when numbers are never reused).
CREATE TABLE IF NOT EXISTS sector_numbers (
    sp_id       BIGINT PRIMARY KEY,
    next_number BIGINT NOT NULL
);

-- Keep a few CC sectors in the pipeline until the miner has max_sectors (the demo uses it;
-- `harmony sectors pledge --auto` sets it).
CREATE TABLE IF NOT EXISTS sectors_auto_pledge (
    sp_id       BIGINT PRIMARY KEY,
    in_flight   INTEGER NOT NULL,     -- sectors sealing at once (not failed, not yet on chain)
    max_sectors INTEGER NOT NULL,     -- stop once the miner has this many sectors
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Why a WindowPoSt proof was not sent (e.g. it would have landed after the deadline closed).
ALTER TABLE wdpost_proofs ADD COLUMN IF NOT EXISTS submit_error TEXT;

CREATE INDEX IF NOT EXISTS chain_sectors_state ON chain_sectors (sp_id, state);
CREATE INDEX IF NOT EXISTS sectors_sdr_pipeline_open ON sectors_sdr_pipeline (sp_id)
    WHERE NOT failed AND NOT (after_commit_msg_success AND after_move_storage);
