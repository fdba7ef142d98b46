-- The devnet chain, kept in HarmonyDB (ours: Curio reads a real Lotus node instead).
-- Epoch e starts at genesis_time + e * block_time; a singleton task materialises each epoch
-- (a tipset with beacon randomness) and lands the messages due by then.

CREATE TABLE IF NOT EXISTS chain_config (
    id                        INTEGER PRIMARY KEY CHECK (id = 1),
    profile                   TEXT NOT NULL,          -- devnet | mainnet
    genesis_time              TIMESTAMPTZ NOT NULL,
    block_time                DOUBLE PRECISION NOT NULL, -- seconds per epoch
    genesis_seed              BYTEA NOT NULL,         -- start of the beacon hash chain
    -- The PoSt constants of the profile (mainnet 2880 / 60 / 48 / 20 / 70).
    wpost_proving_period      BIGINT NOT NULL,
    wpost_challenge_window    BIGINT NOT NULL,
    wpost_period_deadlines    BIGINT NOT NULL,
    wpost_challenge_lookback  BIGINT NOT NULL,
    fault_declaration_cutoff  BIGINT NOT NULL,
    precommit_challenge_delay BIGINT NOT NULL,
    message_delay_epochs      BIGINT NOT NULL,        -- a submitted message lands this much later
    chain_finality            BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS chain_tipsets (
    epoch      BIGINT PRIMARY KEY,
    beacon     BYTEA NOT NULL,                        -- SHA256(beacon(e-1) || LE64(e))
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS chain_miners (
    sp_id                 BIGINT PRIMARY KEY,         -- actor id; address is 't0' || sp_id
    sector_size           BIGINT NOT NULL,
    reg_seal_proof        INTEGER NOT NULL,
    proving_period_offset BIGINT NOT NULL,            -- Filecoin's offset formula at creation
    created_epoch         BIGINT NOT NULL,
    created_at            TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS chain_messages (
    cid             TEXT PRIMARY KEY,
    sp_id           BIGINT NOT NULL,
    method          TEXT NOT NULL,                    -- PreCommitSector | ProveCommitSector |
                                                      -- SubmitWindowedPoSt | DeclareFaults |
                                                      -- DeclareFaultsRecovered
    params          JSONB NOT NULL,
    submitted_epoch BIGINT NOT NULL,
    submitted_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    land_epoch      BIGINT NOT NULL,                  -- earliest epoch it executes
    landed_epoch    BIGINT,                           -- NULL while in the message pool
    exit_code       INTEGER,                          -- 0 = success
    receipt         TEXT                              -- failure reason, or a short summary
);
CREATE INDEX IF NOT EXISTS chain_messages_pending ON chain_messages (land_epoch)
    WHERE landed_epoch IS NULL;
CREATE INDEX IF NOT EXISTS chain_messages_miner ON chain_messages (sp_id, submitted_epoch);

CREATE TABLE IF NOT EXISTS chain_sectors (
    sp_id            BIGINT NOT NULL,
    sector_number    BIGINT NOT NULL,
    state            TEXT NOT NULL,   -- precommitted | active | faulty | recovering | terminated
    sealed_cid       TEXT NOT NULL,
    unsealed_cid     TEXT NOT NULL,
    seal_rand_epoch  BIGINT,
    precommit_epoch  BIGINT NOT NULL,
    activation_epoch BIGINT,
    expiration_epoch BIGINT,
    deadline         INTEGER,         -- assigned at activation, never changes
    "partition"      INTEGER,
    faulty_since     BIGINT,          -- epoch the current fault was recorded
    PRIMARY KEY (sp_id, sector_number)
);
CREATE INDEX IF NOT EXISTS chain_sectors_deadline ON chain_sectors (sp_id, deadline, "partition");

-- One row per (period, deadline, partition) whose SubmitWindowedPoSt landed: "proven partitions".
CREATE TABLE IF NOT EXISTS chain_post_submissions (
    sp_id                BIGINT NOT NULL,
    proving_period_start BIGINT NOT NULL,
    deadline             INTEGER NOT NULL,
    "partition"          INTEGER NOT NULL,
    landed_epoch         BIGINT NOT NULL,
    message_cid          TEXT NOT NULL,
    skipped_sectors      BIGINT[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (sp_id, proving_period_start, deadline, "partition")
);
