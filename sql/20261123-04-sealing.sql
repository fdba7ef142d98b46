-- The sealing pipeline with Curio's table and column names (reference domain.md 1.1), columns
-- merged across Curio's migrations. Timestamps are TIMESTAMPTZ here (Curio mixes in TIMESTAMP).

CREATE TABLE IF NOT EXISTS sectors_sdr_pipeline (
    sp_id                       BIGINT NOT NULL,
    sector_number               BIGINT NOT NULL,
    create_time                 TIMESTAMPTZ NOT NULL DEFAULT now(),
    reg_seal_proof              INTEGER NOT NULL,
    user_sector_duration_epochs BIGINT,

    ticket_epoch                BIGINT,
    ticket_value                BYTEA,
    task_id_sdr                 BIGINT,
    after_sdr                   BOOLEAN NOT NULL DEFAULT FALSE,

    tree_d_cid                  TEXT,
    task_id_tree_d              BIGINT,
    after_tree_d                BOOLEAN NOT NULL DEFAULT FALSE,

    task_id_tree_c              BIGINT,
    after_tree_c                BOOLEAN NOT NULL DEFAULT FALSE,

    tree_r_cid                  TEXT,
    task_id_tree_r              BIGINT,
    after_tree_r                BOOLEAN NOT NULL DEFAULT FALSE,

    task_id_synth               BIGINT,
    after_synth                 BOOLEAN NOT NULL DEFAULT FALSE,

    precommit_ready_at          TIMESTAMPTZ,
    precommit_msg_cid           TEXT,
    task_id_precommit_msg       BIGINT,
    after_precommit_msg         BOOLEAN NOT NULL DEFAULT FALSE,

    seed_epoch                  BIGINT,
    precommit_msg_tsk           BYTEA,
    after_precommit_msg_success BOOLEAN NOT NULL DEFAULT FALSE,
    seed_value                  BYTEA,

    task_id_porep               BIGINT,
    porep_proof                 BYTEA,
    after_porep                 BOOLEAN NOT NULL DEFAULT FALSE,

    task_id_finalize            BIGINT,
    after_finalize              BOOLEAN NOT NULL DEFAULT FALSE,

    task_id_move_storage        BIGINT,
    after_move_storage          BOOLEAN NOT NULL DEFAULT FALSE,

    commit_ready_at             TIMESTAMPTZ,
    start_epoch                 BIGINT,
    commit_msg_cid              TEXT,
    task_id_commit_msg          BIGINT,
    after_commit_msg            BOOLEAN NOT NULL DEFAULT FALSE,

    commit_msg_tsk              BYTEA,
    after_commit_msg_success    BOOLEAN NOT NULL DEFAULT FALSE,

    failed                      BOOLEAN NOT NULL DEFAULT FALSE,
    failed_at                   TIMESTAMPTZ,
    failed_reason               VARCHAR(20) NOT NULL DEFAULT '',
    failed_reason_msg           TEXT NOT NULL DEFAULT '',

    PRIMARY KEY (sp_id, sector_number)
);

-- precommit_ready_at / commit_ready_at mark when a sector became ready for a batch (Curio sets
-- them from an AFTER trigger that updates the row again; a BEFORE trigger does it in place).
CREATE OR REPLACE FUNCTION sectors_sdr_pipeline_ready_at() RETURNS TRIGGER AS $$
BEGIN
    IF NEW.after_tree_r AND (TG_OP = 'INSERT' OR NOT OLD.after_tree_r)
       AND NEW.precommit_ready_at IS NULL THEN
        NEW.precommit_ready_at := now();
    END IF;
    IF NEW.after_porep AND (TG_OP = 'INSERT' OR NOT OLD.after_porep)
       AND NEW.commit_ready_at IS NULL THEN
        NEW.commit_ready_at := now();
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS sectors_sdr_pipeline_ready_at ON sectors_sdr_pipeline;
CREATE TRIGGER sectors_sdr_pipeline_ready_at
    BEFORE INSERT OR UPDATE ON sectors_sdr_pipeline
    FOR EACH ROW EXECUTE FUNCTION sectors_sdr_pipeline_ready_at();

CREATE TABLE IF NOT EXISTS sectors_sdr_initial_pieces (
    sp_id                   BIGINT NOT NULL,
    sector_number           BIGINT NOT NULL,
    piece_index             BIGINT NOT NULL,
    piece_cid               TEXT NOT NULL,
    piece_size              BIGINT NOT NULL,          -- padded size
    data_url                TEXT NOT NULL,
    data_headers            JSONB NOT NULL DEFAULT '{}',
    data_raw_size           BIGINT NOT NULL,
    data_delete_on_finalize BOOLEAN NOT NULL,
    f05_publish_cid         TEXT,
    f05_deal_id             BIGINT,
    f05_deal_proposal       JSONB,
    f05_deal_start_epoch    BIGINT,
    f05_deal_end_epoch      BIGINT,
    direct_start_epoch      BIGINT,
    direct_end_epoch        BIGINT,
    direct_piece_activation_manifest JSONB,
    created_at              TIMESTAMPTZ,
    FOREIGN KEY (sp_id, sector_number)
        REFERENCES sectors_sdr_pipeline (sp_id, sector_number) ON DELETE CASCADE,
    PRIMARY KEY (sp_id, sector_number, piece_index)
);

-- The catalogue of sectors that finished sealing.
CREATE TABLE IF NOT EXISTS sectors_meta (
    sp_id             BIGINT NOT NULL,
    sector_num        BIGINT NOT NULL,
    reg_seal_proof    INTEGER NOT NULL,
    ticket_epoch      BIGINT NOT NULL,
    ticket_value      BYTEA NOT NULL,
    orig_sealed_cid   TEXT NOT NULL,
    orig_unsealed_cid TEXT NOT NULL,
    cur_sealed_cid    TEXT NOT NULL,
    cur_unsealed_cid  TEXT NOT NULL,
    msg_cid_precommit TEXT,
    msg_cid_commit    TEXT,
    msg_cid_update    TEXT,
    seed_epoch        BIGINT NOT NULL,
    seed_value        BYTEA NOT NULL,
    is_cc             BOOLEAN NOT NULL DEFAULT TRUE,
    expiration_epoch  BIGINT,
    deadline          BIGINT,
    "partition"       BIGINT,
    is_live           BOOLEAN NOT NULL DEFAULT TRUE,
    is_faulty         BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (sp_id, sector_num)
);

CREATE TABLE IF NOT EXISTS message_waits (
    signed_message_cid     TEXT PRIMARY KEY,
    waiter_machine_id      INTEGER REFERENCES harmony_machines (id) ON DELETE SET NULL,
    executed_tsk_cid       TEXT,
    executed_tsk_epoch     BIGINT,
    executed_msg_cid       TEXT,
    executed_msg_data      JSONB,
    executed_rcpt_exitcode BIGINT,
    executed_rcpt_return   BYTEA,
    executed_rcpt_gas_used BIGINT,
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Links a sector to the harmony_task_history rows of its stages (per-sector event log).
CREATE TABLE IF NOT EXISTS sectors_pipeline_events (
    sp_id            BIGINT NOT NULL,
    sector_number    BIGINT NOT NULL,
    task_history_ids BIGINT[] NOT NULL,
    PRIMARY KEY (sp_id, sector_number)
);

CREATE OR REPLACE FUNCTION append_sector_pipeline_events(
    sp_id_param BIGINT, sector_number_param BIGINT, new_task_history_id_param BIGINT
) RETURNS VOID AS $$
BEGIN
    INSERT INTO sectors_pipeline_events (sp_id, sector_number, task_history_ids)
    VALUES (sp_id_param, sector_number_param, ARRAY[new_task_history_id_param])
    ON CONFLICT (sp_id, sector_number) DO UPDATE
        SET task_history_ids = array_append(sectors_pipeline_events.task_history_ids,
                                            new_task_history_id_param);
END;
$$ LANGUAGE plpgsql;
