-- WindowPoSt and WinningPoSt with Curio's table and column names (reference domain.md 4.3).

CREATE TABLE IF NOT EXISTS wdpost_partition_tasks (
    task_id              BIGINT NOT NULL CONSTRAINT wdpost_partition_tasks_pk PRIMARY KEY,
    sp_id                BIGINT NOT NULL,
    proving_period_start BIGINT NOT NULL,
    deadline_index       BIGINT NOT NULL,
    partition_index      BIGINT NOT NULL,
    CONSTRAINT wdpost_partition_tasks_identity_key
        UNIQUE (sp_id, proving_period_start, deadline_index, partition_index)
);

CREATE TABLE IF NOT EXISTS wdpost_proofs (
    sp_id                BIGINT NOT NULL,
    proving_period_start BIGINT NOT NULL,
    deadline             BIGINT NOT NULL,
    "partition"          BIGINT NOT NULL,
    submit_at_epoch      BIGINT NOT NULL,
    submit_by_epoch      BIGINT NOT NULL,
    proof_params         BYTEA,
    submit_task_id       BIGINT,
    message_cid          TEXT,
    test_task_id         BIGINT,
    CONSTRAINT wdpost_proofs_identity_key
        UNIQUE (sp_id, proving_period_start, deadline, "partition")
);

CREATE TABLE IF NOT EXISTS wdpost_recovery_tasks (
    task_id              BIGINT NOT NULL CONSTRAINT wdpost_recovery_tasks_pk PRIMARY KEY,
    sp_id                BIGINT NOT NULL,
    proving_period_start BIGINT NOT NULL,
    deadline_index       BIGINT NOT NULL,
    partition_index      BIGINT NOT NULL,
    CONSTRAINT wdpost_recovery_tasks_identity_key
        UNIQUE (sp_id, proving_period_start, deadline_index, partition_index)
);

CREATE TABLE IF NOT EXISTS mining_tasks (
    task_id           BIGINT NOT NULL CONSTRAINT mining_tasks_pk PRIMARY KEY,
    sp_id             BIGINT NOT NULL,
    epoch             BIGINT NOT NULL,
    base_compute_time TIMESTAMPTZ NOT NULL,
    won               BOOLEAN NOT NULL DEFAULT FALSE,
    mined_cid         TEXT,
    mined_header      JSONB,
    mined_at          TIMESTAMPTZ,
    submitted_at      TIMESTAMPTZ,
    included          BOOLEAN,
    CONSTRAINT mining_tasks_sp_epoch UNIQUE (sp_id, epoch)
);

CREATE TABLE IF NOT EXISTS mining_base_block (
    id        BIGSERIAL NOT NULL CONSTRAINT mining_base_block_pk PRIMARY KEY,
    task_id   BIGINT NOT NULL
        CONSTRAINT mining_base_block_mining_tasks_task_id_fk
            REFERENCES mining_tasks ON DELETE CASCADE,
    sp_id     BIGINT,
    block_cid TEXT NOT NULL,
    no_win    BOOLEAN NOT NULL DEFAULT FALSE,
    CONSTRAINT mining_base_block_pk2 UNIQUE (sp_id, task_id, block_cid)
);
CREATE UNIQUE INDEX IF NOT EXISTS mining_base_block_cid_k ON mining_base_block (sp_id, block_cid)
    WHERE no_win = FALSE;
