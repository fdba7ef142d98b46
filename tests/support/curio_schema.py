"""A Curio-shaped schema for tests: Curio's tables as its migrations leave them, and rows as its
Go code writes them, so harmony's behaviour against a live Curio cluster is tested without one.

Written here from Curio's sources (filecoin-project/curio, ``harmony/harmonydb/sql/``, read at
commit e0294b0f of 2026-08-20), not copied: the DDL below is the *final* shape of each table after
all of Curio's migrations, one CREATE per table, with the same table, column, constraint and index
names, types, defaults and keys. Each fact names the migration file it comes from.
:mod:`support.test_curio_schema` checks it against Curio's real migrations when a checkout is at
hand.

How Curio records migrations (``github.com/curiostorage/harmonyquery``, ``DB.upgrade()``): it
creates ``base (id SERIAL PRIMARY KEY, entry CHAR(12), applied TIMESTAMP DEFAULT
current_timestamp)``, reads every ``entry``, and runs each file of ``sql/`` in name order whose
first 8 characters (the date) are not yet an entry; after a file it inserts ``entry = name[:8]``.
A file runs as one multi-statement ``Exec`` after its ``--`` and ``#`` comment lines are dropped
(so one implicit transaction on PostgreSQL). The default schema is ``curio``; every connection
sets ``search_path`` to it. Two files of one date both run on a fresh database (entries are read
once, before the loop) and leave two equal entries.

Left out: Curio's other ~130 tables, column comments, and the triggers of ``sectors_meta``
(``update_is_cc``, ``trig_sectors_meta_update_materialized``: 20240611-snap-pipeline.sql,
20240903-unseal-pipeline.sql, 20260407-has-sector-key.sql) and of ``sectors_sdr_pipeline``
(``set_precommit_ready_at``, ``set_commit_ready_at``: 20241210-sdr-batching.sql), which need
tables outside this fixture; the seed sets what they would compute.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from engine.harmonydb import parse_url

#: Every migration file of Curio's ``harmony/harmonydb/sql/`` at e0294b0f (138 files), in the
#: order Curio applies them. ``base`` gets one entry (the date prefix) per file.
CURIO_MIGRATIONS: tuple[str, ...] = (
    "20230706-itest_scratch.sql",
    "20230712-sector_index.sql",
    "20230719-harmony.sql",
    "20230823-wdpost.sql",
    "20230919-config.sql",
    "20231103-chain_sends.sql",
    "20231110-mining_tasks.sql",
    "20231113-harmony_taskhistory_oops.sql",
    "20231120-testing1.sql",
    "20231217-sdr-pipeline.sql",
    "20231225-message-waits.sql",
    "20240212-common-layers.sql",
    "20240228-piece-park.sql",
    "20240317-web-summary-index.sql",
    "20240401-storage-miner-filter.sql",
    "20240402-sdr-pipeline-ddo-deal-info.sql",
    "20240404-machine_detail.sql",
    "20240416-harmony_singleton_task.sql",
    "20240417-sector_index_gc.sql",
    "20240420-web-task-indexes.sql",
    "20240425-sector_meta.sql",
    "20240501-harmony-indexes.sql",
    "20240507-sdr-pipeline-fk-drop.sql",
    "20240508-open-deal-sectors.sql",
    "20240522-ts-to-timestampz.sql",
    "20240527-machine_name.sql",
    "20240529-sdr-pipeline-task-extract.sql",
    "20240606-storage-gc.sql",
    "20240610-mining-inclusion-checks.sql",
    "20240611-snap-pipeline.sql",
    "20240612-deal-proposal.sql",
    "20240617-synthetic-proofs.sql",
    "20240701-batch-sector-refs.sql",
    "20240730-alerts.sql",
    "20240731-market-migration.sql",
    "20240802-sdr-pipeline-user-expiration.sql",
    "20240809-snap-failures.sql",
    "20240814-pipeline-task-events.sql",
    "20240823-ipni.sql",
    "20240824-longterm-indexes.sql",
    "20240826-sector-partition.sql",
    "20240903-unseal-pipeline.sql",
    "20240904-scrub-unseal-check.sql",
    "20240906-http-server.sql",
    "20240927-task-retrywait.sql",
    "20240929-chain-sends-eth.sql",
    "20240930-pdp.sql",
    "20241017-market-mig-indexing.sql",
    "20241021-f3.sql",
    "20241028-padding.sql",
    "20241029-mk12-filters.sql",
    "20241030-deal-label.sql",
    "20241104-piece-info.sql",
    "20241105-walletnames.sql",
    "20241106-market-fixes.sql",
    "20241210-sdr-batching.sql",
    "20250111-machine-maintenance.sql",
    "20250113-pdp-never-delete.sql",
    "20250115-proofshare.sql",
    "20250129-msgwait-idx.sql",
    "20250220-mk12-ddo.sql",
    "20250310-fix-ingest.sql",
    "20250312-batching-functions.sql",
    "20250331-fix-bulk-restart-func.sql",
    "20250422-msg-wait-timestamp.sql",
    "20250423-remove-fee-aggregation.sql",
    "20250505-market-mk20.sql",
    "20250603-pdp-public-service.sql",
    "20250619-proofshare-fixes.sql",
    "20250620-proofshare-pow.sql",
    "20250724-proofshare-autosettle.sql",
    "20250727-balancemgr.sql",
    "20250728-proofshare-payment-stats.sql",
    "20250730-pdp-v0-rename.sql",
    "20250801-proofshare-pipeline.sql",
    "20250803-wallet-exporter.sql",
    "20250808-cc-scheduler.sql",
    "20250811-fix-commit-batching.sql",
    "20250817-balancemgr-pshare.sql",
    "20250818-restart-request.sql",
    "20250926-harmony_config_timestamp.sql",
    "20250930-pdp-v0-streaming-upload.sql",
    "20251004-pdp-v0-indexing.sql",
    "20251010-pdp-v0-fix-add-piece-constraints.sql",
    "20251011-pdp-v0-ipni-fetch-tracking.sql",
    "20251014-park-piece-optimisation.sql",
    "20251015-pdp-v0-piece-adds-datasetid-nullable.sql",
    "20251027-pdp-v0-filecoin-pay.sql",
    "20251029-pdp-v0-pieceref-cascade.sql",
    "20251125-sector-ext-mgr.sql",
    "20251231-fix-raw-size.sql",
    "20260109-pdp-v0-pull.sql",
    "20260110-pdp-v0-termination-handling.sql",
    "20260112-pdp-v0-efficiency-indexes.sql",
    "20260116-scrub-commr-check.sql",
    "20260117-alert-mutes.sql",
    "20260118-alert-history.sql",
    "20260122-pdp-v0-deletion-allowed.sql",
    "20260123-pdp-v0-rename-terminated-at-epoch.sql",
    "20260125-fix-process_piece_deal.sql",
    "20260201-fix-batching-timeout.sql",
    "20260203-pdp-v0-delete-task-nullable.sql",
    "20260211-fix-raw-size-table.sql",
    "20260215-config-history.sql",
    "20260216-pdp-v0-save-cache.sql",
    "20260222-fix-trigger-timestamps.sql",
    "20260314-singleton-run-now.sql",
    "20260315-fix-snap-delete-trigger.sql",
    "20260321-proofshare-commr-idempotency.sql",
    "20260407-has-sector-key.sql",
    "20260410-ipni-head-cas.sql",
    "20260411-sector-live-faulty.sql",
    "20260414-pdp-v0-fix-add-piece-constraints.sql",
    "20260416-mk20-ddo-contracts.sql",
    "20260424-seal-poller-indexes.sql",
    "20260430-harmony-task-history-idx.sql",
    "20260501-machine-detail-version.sql",
    "20260509-pdpv0-reorg-chk.sql",
    "20260511-pdpv0-ipni-tracking.sql",
    "20260520-pdp-v0-client-termination.sql",
    "20260521-pdp-v0-pull-refactor.sql",
    "20260527-pdpv0-reorg-chk-indexes.sql",
    "20260601-parked-piece-refcount.sql",
    "20260605-parked-piece-cleanup-index.sql",
    "20260610-pdp-ipni-hot-path-indexes.sql",
    "20260612-snap-sector-allocation-index.sql",
    "20260624-db-scale-indexes.sql",
    "20260702-alert-lifecycle.sql",
    "20260706-drop-message-waits-eth-fks.sql",
    "20260715-message-send-replacements.sql",
    "20260717-pdp-v0-drop-prove-backoff.sql",
    "20260729-message-sends-eth-timestamptz.sql",
    "20260730-pdp-v0-create-extra-data.sql",
    "20260730-pdp-v0-dataset-ipfs-indexing.sql",
    "20260804-pdpv0-repair-missing-pieces.sql",
    "20260806-piece-summary-incremental.sql",
    "20260811-message-send-lock-task-fks.sql",
    "20260812-table-analyze-state.sql",
)

#: One statement per table (and the function), in dependency order; no schema names, so they
#: land in the connection's ``search_path`` as Curio's own migrations do.
CURIO_DDL: tuple[str, ...] = (
    # harmonyquery DB.upgrade(): the migration ledger, created before any file runs.
    """
    CREATE TABLE base (
        id      SERIAL PRIMARY KEY,
        entry   CHAR(12),
        applied TIMESTAMP DEFAULT current_timestamp
    )
    """,
    # 20230719-harmony.sql; last_contact TIMESTAMPTZ since 20240522-ts-to-timestampz.sql;
    # unschedulable (a cordon) and its index 20250111-machine-maintenance.sql; restart_request
    # 20250818-restart-request.sql. FLOAT is double precision.
    """
    CREATE TABLE harmony_machines (
        id              SERIAL PRIMARY KEY,
        last_contact    TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
        host_and_port   VARCHAR(300) NOT NULL,
        cpu             INTEGER NOT NULL,
        ram             BIGINT NOT NULL,
        gpu             DOUBLE PRECISION NOT NULL,
        unschedulable   BOOLEAN DEFAULT FALSE,
        restart_request TIMESTAMPTZ
    )
    """,
    "CREATE INDEX idx_harmony_machines_unschedulable ON harmony_machines (unschedulable)",
    # 20240404-machine_detail.sql (with the unique index on machine_id); startup_time
    # TIMESTAMPTZ since 20240522-ts-to-timestampz.sql; machine_name 20240527-machine_name.sql;
    # version 20260501-machine-detail-version.sql.
    """
    CREATE TABLE harmony_machine_details (
        id           SERIAL PRIMARY KEY,
        tasks        TEXT,
        layers       TEXT,
        startup_time TIMESTAMPTZ,
        miners       TEXT,
        machine_id   INTEGER REFERENCES harmony_machines (id) ON DELETE CASCADE,
        machine_name TEXT,
        version      TEXT
    )
    """,
    "CREATE UNIQUE INDEX machine_details_machine_id ON harmony_machine_details (machine_id)",
    # 20230719-harmony.sql; update_time and posted_time TIMESTAMPTZ since
    # 20240522-ts-to-timestampz.sql; retries 20240927-task-retrywait.sql; the poller's partial
    # index 20260112-pdp-v0-efficiency-indexes.sql. Names are at most 16 characters.
    """
    CREATE TABLE harmony_task (
        id            SERIAL PRIMARY KEY,
        initiated_by  INTEGER,
        update_time   TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
        posted_time   TIMESTAMPTZ NOT NULL,
        owner_id      INTEGER REFERENCES harmony_machines (id) ON DELETE SET NULL,
        added_by      INTEGER NOT NULL,
        previous_task INTEGER,
        name          VARCHAR(16) NOT NULL,
        retries       BIGINT NOT NULL DEFAULT 0
    )
    """,
    """
    CREATE INDEX idx_harmony_task_unowned_by_name ON harmony_task (name, update_time)
        WHERE owner_id IS NULL
    """,
    # 20230719-harmony.sql; completed_by_host_and_port 20231113-harmony_taskhistory_oops.sql;
    # TIMESTAMPTZ since 20240522-ts-to-timestampz.sql. Indexes: harmony_task_history_work_index
    # as re-made by 20240420-web-task-indexes.sql, ..._task_id_result_index
    # 20240501-harmony-indexes.sql, ..._recent_task_result_idx
    # 20260430-harmony-task-history-idx.sql.
    """
    CREATE TABLE harmony_task_history (
        id                         SERIAL PRIMARY KEY,
        task_id                    INTEGER NOT NULL,
        name                       VARCHAR(16) NOT NULL,
        posted                     TIMESTAMPTZ NOT NULL,
        work_start                 TIMESTAMPTZ NOT NULL,
        work_end                   TIMESTAMPTZ NOT NULL,
        result                     BOOLEAN NOT NULL,
        err                        VARCHAR,
        completed_by_host_and_port VARCHAR(300) NOT NULL
    )
    """,
    """
    CREATE INDEX harmony_task_history_work_index
        ON harmony_task_history (work_end DESC, completed_by_host_and_port, name, result)
    """,
    """
    CREATE INDEX harmony_task_history_task_id_result_index
        ON harmony_task_history (task_id, result)
    """,
    """
    CREATE INDEX harmony_task_history_recent_task_result_idx
        ON harmony_task_history (work_end DESC, name, task_id, result)
    """,
    # 20240416-harmony_singleton_task.sql; last_run_time TIMESTAMPTZ since
    # 20240522-ts-to-timestampz.sql; run_now_request 20260314-singleton-run-now.sql.
    """
    CREATE TABLE harmony_task_singletons (
        task_name       VARCHAR(255) NOT NULL PRIMARY KEY,
        task_id         BIGINT REFERENCES harmony_task (id) ON DELETE SET NULL,
        last_run_time   TIMESTAMPTZ,
        run_now_request BOOLEAN NOT NULL DEFAULT FALSE
    )
    """,
    # 20230919-config.sql; "timestamp" (still without time zone)
    # 20250926-harmony_config_timestamp.sql.
    """
    CREATE TABLE harmony_config (
        id          SERIAL PRIMARY KEY,
        title       VARCHAR(300) NOT NULL UNIQUE,
        config      TEXT NOT NULL,
        "timestamp" TIMESTAMP NOT NULL DEFAULT now()
    )
    """,
    # 20231217-sdr-pipeline.sql (its foreign keys to harmony_task dropped by
    # 20240507-sdr-pipeline-fk-drop.sql); create_time and failed_at TIMESTAMPTZ since
    # 20240522-ts-to-timestampz.sql; task_id_synth/after_synth 20240617-synthetic-proofs.sql;
    # user_sector_duration_epochs 20240802-sdr-pipeline-user-expiration.sql;
    # precommit_ready_at/commit_ready_at 20241210-sdr-batching.sql; start_epoch
    # 20250312-batching-functions.sql; the three partial indexes
    # 20260424-seal-poller-indexes.sql.
    """
    CREATE TABLE sectors_sdr_pipeline (
        sp_id                       BIGINT NOT NULL,
        sector_number               BIGINT NOT NULL,
        create_time                 TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
        reg_seal_proof              INTEGER NOT NULL,
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
        commit_msg_cid              TEXT,
        task_id_commit_msg          BIGINT,
        after_commit_msg            BOOLEAN NOT NULL DEFAULT FALSE,
        commit_msg_tsk              BYTEA,
        after_commit_msg_success    BOOLEAN NOT NULL DEFAULT FALSE,
        failed                      BOOLEAN NOT NULL DEFAULT FALSE,
        failed_at                   TIMESTAMPTZ,
        failed_reason               VARCHAR(20) NOT NULL DEFAULT '',
        failed_reason_msg           TEXT NOT NULL DEFAULT '',
        task_id_synth               BIGINT,
        after_synth                 BOOLEAN NOT NULL DEFAULT FALSE,
        user_sector_duration_epochs BIGINT,
        precommit_ready_at          TIMESTAMPTZ,
        commit_ready_at             TIMESTAMPTZ,
        start_epoch                 BIGINT,
        PRIMARY KEY (sp_id, sector_number)
    )
    """,
    """
    CREATE INDEX idx_sdr_pipeline_active ON sectors_sdr_pipeline (sp_id, sector_number)
        WHERE failed = FALSE AND (after_commit_msg_success = FALSE OR after_move_storage = FALSE)
    """,
    """
    CREATE INDEX idx_sdr_pipeline_precommit_ready ON sectors_sdr_pipeline (sp_id, reg_seal_proof)
        WHERE after_synth = TRUE AND task_id_precommit_msg IS NULL
          AND after_precommit_msg = FALSE
    """,
    """
    CREATE INDEX idx_sdr_pipeline_commit_ready
        ON sectors_sdr_pipeline (sp_id, reg_seal_proof, start_epoch)
        WHERE after_porep = TRUE AND porep_proof IS NOT NULL AND task_id_commit_msg IS NULL
          AND after_commit_msg = FALSE AND start_epoch IS NOT NULL
    """,
    # 20240814-pipeline-task-events.sql; the extra unique index 20241106-market-fixes.sql.
    """
    CREATE TABLE sectors_pipeline_events (
        sp_id           BIGINT NOT NULL,
        sector_number   BIGINT NOT NULL,
        task_history_id BIGINT NOT NULL,
        PRIMARY KEY (sp_id, sector_number, task_history_id)
    )
    """,
    """
    CREATE UNIQUE INDEX sectors_pipeline_events_task_history_id_uindex
        ON sectors_pipeline_events (task_history_id, sp_id, sector_number)
    """,
    # 20240814-pipeline-task-events.sql: harmonytask's recordCompletion calls it with the
    # history row of every task that names a sector (task_type_handler.go). Same signature and
    # effect; the body is ours.
    """
    CREATE FUNCTION append_sector_pipeline_events(
        sp_id_param BIGINT, sector_number_param BIGINT, task_history_id_param BIGINT
    ) RETURNS VOID LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO sectors_pipeline_events (sp_id, sector_number, task_history_id)
        VALUES (sp_id_param, sector_number_param, task_history_id_param)
        ON CONFLICT (sp_id, sector_number, task_history_id) DO NOTHING;
    END;
    $$
    """,
    # 20240425-sector_meta.sql; expiration_epoch, is_cc 20240611-snap-pipeline.sql;
    # deadline, partition and their index 20240826-sector-partition.sql; target_unseal_state
    # 20240903-unseal-pipeline.sql; min/max_claim_epoch 20251125-sector-ext-mgr.sql;
    # has_sector_key 20260407-has-sector-key.sql; is_live, is_faulty
    # 20260411-sector-live-faulty.sql; the snap candidates index
    # 20260612-snap-sector-allocation-index.sql.
    """
    CREATE TABLE sectors_meta (
        sp_id               BIGINT NOT NULL,
        sector_num          BIGINT NOT NULL,
        reg_seal_proof      INTEGER NOT NULL,
        ticket_epoch        BIGINT NOT NULL,
        ticket_value        BYTEA NOT NULL,
        orig_sealed_cid     TEXT NOT NULL,
        orig_unsealed_cid   TEXT NOT NULL,
        cur_sealed_cid      TEXT NOT NULL,
        cur_unsealed_cid    TEXT NOT NULL,
        msg_cid_precommit   TEXT,
        msg_cid_commit      TEXT,
        msg_cid_update      TEXT,
        seed_epoch          BIGINT NOT NULL,
        seed_value          BYTEA NOT NULL,
        expiration_epoch    BIGINT,
        is_cc               BOOLEAN,
        deadline            BIGINT,
        partition           BIGINT,
        target_unseal_state BOOLEAN,
        min_claim_epoch     BIGINT,
        max_claim_epoch     BIGINT,
        has_sector_key      BOOLEAN NOT NULL DEFAULT FALSE,
        is_live             BOOLEAN NOT NULL DEFAULT TRUE,
        is_faulty           BOOLEAN NOT NULL DEFAULT FALSE,
        PRIMARY KEY (sp_id, sector_num)
    )
    """,
    """
    CREATE INDEX sectors_meta_deadline_partition_spid_sectornum_index
        ON sectors_meta (deadline, partition, sp_id, sector_num)
    """,
    """
    CREATE INDEX sectors_meta_snap_alloc_candidates_idx
        ON sectors_meta (sp_id, expiration_epoch, deadline, sector_num, reg_seal_proof)
        WHERE is_cc = TRUE AND is_live = TRUE AND is_faulty = FALSE
          AND expiration_epoch IS NOT NULL AND deadline IS NOT NULL
    """,
    # 20230712-sector_index.sql (urls, groups, allow_to, allow/deny_types are comma-separated
    # lists); last_heartbeat TIMESTAMPTZ since 20240522-ts-to-timestampz.sql; allow_miners,
    # deny_miners 20240401-storage-miner-filter.sql.
    """
    CREATE TABLE storage_path (
        storage_id     VARCHAR NOT NULL CONSTRAINT storage_path_pkey PRIMARY KEY,
        urls           VARCHAR,
        weight         BIGINT,
        max_storage    BIGINT,
        can_seal       BOOLEAN,
        can_store      BOOLEAN,
        groups         VARCHAR,
        allow_to       VARCHAR,
        allow_types    VARCHAR,
        deny_types     VARCHAR,
        capacity       BIGINT,
        available      BIGINT,
        fs_available   BIGINT,
        reserved       BIGINT,
        used           BIGINT,
        last_heartbeat TIMESTAMPTZ,
        heartbeat_err  VARCHAR,
        allow_miners   VARCHAR DEFAULT '',
        deny_miners    VARCHAR DEFAULT ''
    )
    """,
    # 20230712-sector_index.sql (read_refs made NOT NULL DEFAULT 0 there); read_ts, write_ts
    # TIMESTAMPTZ since 20240522-ts-to-timestampz.sql; the storage_id index
    # 20260624-db-scale-indexes.sql. sector_filetype is Curio's bit: 1 unsealed, 2 sealed,
    # 4 cache, 8 update, 16 update-cache.
    """
    CREATE TABLE sector_location (
        miner_id         BIGINT NOT NULL,
        sector_num       BIGINT NOT NULL,
        sector_filetype  INTEGER NOT NULL,
        storage_id       VARCHAR NOT NULL,
        is_primary       BOOLEAN,
        read_ts          TIMESTAMPTZ,
        read_refs        INTEGER NOT NULL DEFAULT 0,
        write_ts         TIMESTAMPTZ,
        write_lock_owner VARCHAR,
        CONSTRAINT sectorlocation_pk
            PRIMARY KEY (miner_id, sector_num, sector_filetype, storage_id)
    )
    """,
    "CREATE INDEX idx_sector_location_storage_id ON sector_location (storage_id)",
    # 20230823-wdpost.sql (all three tables).
    """
    CREATE TABLE wdpost_partition_tasks (
        task_id              BIGINT NOT NULL CONSTRAINT wdpost_partition_tasks_pk PRIMARY KEY,
        sp_id                BIGINT NOT NULL,
        proving_period_start BIGINT NOT NULL,
        deadline_index       BIGINT NOT NULL,
        partition_index      BIGINT NOT NULL,
        CONSTRAINT wdpost_partition_tasks_identity_key
            UNIQUE (sp_id, proving_period_start, deadline_index, partition_index)
    )
    """,
    # 20230823-wdpost.sql; test_task_id 20231120-testing1.sql.
    """
    CREATE TABLE wdpost_proofs (
        sp_id                BIGINT NOT NULL,
        proving_period_start BIGINT NOT NULL,
        deadline             BIGINT NOT NULL,
        partition            BIGINT NOT NULL,
        submit_at_epoch      BIGINT NOT NULL,
        submit_by_epoch      BIGINT NOT NULL,
        proof_params         BYTEA,
        submit_task_id       BIGINT,
        message_cid          TEXT,
        test_task_id         BIGINT,
        CONSTRAINT wdpost_proofs_identity_key
            UNIQUE (sp_id, proving_period_start, deadline, partition)
    )
    """,
    """
    CREATE TABLE wdpost_recovery_tasks (
        task_id              BIGINT NOT NULL CONSTRAINT wdpost_recovery_tasks_pk PRIMARY KEY,
        sp_id                BIGINT NOT NULL,
        proving_period_start BIGINT NOT NULL,
        deadline_index       BIGINT NOT NULL,
        partition_index      BIGINT NOT NULL,
        CONSTRAINT wdpost_recovery_tasks_identity_key
            UNIQUE (sp_id, proving_period_start, deadline_index, partition_index)
    )
    """,
    # 20231110-mining_tasks.sql; TIMESTAMPTZ since 20240522-ts-to-timestampz.sql; included
    # 20240610-mining-inclusion-checks.sql; the wins index 20240317-web-summary-index.sql.
    """
    CREATE TABLE mining_tasks (
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
    )
    """,
    """
    CREATE INDEX mining_tasks_won_sp_id_base_compute_time_index
        ON mining_tasks (won, sp_id, base_compute_time DESC)
    """,
    # 20231225-message-waits.sql; its index 20240824-longterm-indexes.sql and
    # 20250129-msgwait-idx.sql; created_at and its index 20250422-msg-wait-timestamp.sql. Its
    # triggers (proofshare, balance manager, expiration manager) write tables outside the
    # fixture and are left out.
    """
    CREATE TABLE message_waits (
        signed_message_cid     TEXT PRIMARY KEY,
        waiter_machine_id      INT REFERENCES harmony_machines (id) ON DELETE SET NULL,
        executed_tsk_cid       TEXT,
        executed_tsk_epoch     BIGINT,
        executed_msg_cid       TEXT,
        executed_msg_data      JSONB,
        executed_rcpt_exitcode BIGINT,
        executed_rcpt_return   BYTEA,
        executed_rcpt_gas_used BIGINT,
        created_at             TIMESTAMPTZ NOT NULL DEFAULT TIMEZONE('UTC', NOW())
    )
    """,
    "CREATE INDEX message_waits_waiter_machine_id_index ON message_waits (waiter_machine_id)",
    "CREATE INDEX idx_message_waits_nulls ON message_waits (waiter_machine_id) "
    "WHERE waiter_machine_id IS NULL AND executed_tsk_cid IS NULL",
    "CREATE INDEX idx_message_waits_created_at_executed ON message_waits (created_at) "
    "WHERE executed_tsk_cid IS NOT NULL",
)

#: The tables this fixture has (what the check against the real migrations compares).
CURIO_TABLES: tuple[str, ...] = (
    "base",
    "harmony_machines",
    "harmony_machine_details",
    "harmony_task",
    "harmony_task_history",
    "harmony_task_singletons",
    "harmony_config",
    "sectors_sdr_pipeline",
    "sectors_pipeline_events",
    "sectors_meta",
    "storage_path",
    "sector_location",
    "wdpost_partition_tasks",
    "wdpost_proofs",
    "wdpost_recovery_tasks",
    "mining_tasks",
    "message_waits",
)

#: the storage provider the seeded rows belong to (f01000)
SP_ID = 1000
#: RegisteredSealProof StackedDrg32GiBV1_1
SEAL_PROOF = 8
#: Curio's sector_location.sector_filetype bits
UNSEALED, SEALED, CACHE = 1, 2, 4


@dataclass(frozen=True)
class CurioSeed:
    """What :func:`seed_curio` inserted, for tests to name rows by."""

    #: host_and_port -> harmony_machines.id
    machines: dict[str, int]
    #: harmony_task ids with owner_id NULL
    pending: list[int]
    #: harmony_task ids owned by a machine
    running: list[int]
    history: list[int]
    #: sector numbers in sectors_sdr_pipeline
    pipeline: list[int]
    storage_ids: list[str]


@dataclass(frozen=True)
class CurioCluster:
    """A Curio-shaped schema on the test server (see :func:`curio_cluster`)."""

    #: the server, as the suite's ``pg_url`` (its owner role)
    url: str
    schema: str
    seed: CurioSeed | None = field(default=None)


async def create_curio_schema(conn: asyncpg.Connection, schema: str) -> None:
    """Create ``schema`` with :data:`CURIO_DDL` and a ledger as Curio leaves it (one entry per
    file of :data:`CURIO_MIGRATIONS`, applied a second apart, oldest first)."""
    # identifiers cannot be parameters; ``schema`` is made by this module (see curio_cluster)
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    await conn.execute(f'SET search_path = "{schema}"')
    for statement in CURIO_DDL:
        await conn.execute(statement)
    count = len(CURIO_MIGRATIONS)
    await conn.executemany(
        "INSERT INTO base (entry, applied) "
        "VALUES ($1, now() - make_interval(days => 30, secs => $2))",
        [(name[:8], count - i) for i, name in enumerate(CURIO_MIGRATIONS)],
    )


#: the columns of sectors_sdr_pipeline the seed sets (the rest keep their defaults)
_PIPELINE = (
    "sp_id", "sector_number", "reg_seal_proof", "ticket_epoch", "ticket_value",
    "task_id_sdr", "after_sdr", "tree_d_cid", "task_id_tree_d", "after_tree_d", "after_tree_c",
    "tree_r_cid", "after_tree_r", "after_synth", "precommit_msg_cid", "after_precommit_msg",
    "seed_epoch", "after_precommit_msg_success", "task_id_porep", "after_porep",
    "after_finalize", "after_move_storage", "commit_msg_cid", "after_commit_msg",
    "after_commit_msg_success", "failed", "failed_reason", "failed_reason_msg",
)  # fmt: skip
_INSERT_PIPELINE = (
    "INSERT INTO sectors_sdr_pipeline (sp_id, sector_number, reg_seal_proof, ticket_epoch, "
    "ticket_value, task_id_sdr, after_sdr, tree_d_cid, task_id_tree_d, after_tree_d, "
    "after_tree_c, tree_r_cid, after_tree_r, after_synth, precommit_msg_cid, "
    "after_precommit_msg, seed_epoch, after_precommit_msg_success, task_id_porep, after_porep, "
    "after_finalize, after_move_storage, commit_msg_cid, after_commit_msg, "
    "after_commit_msg_success, failed, failed_reason, failed_reason_msg) VALUES ($1, $2, $3, "
    "$4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, "
    "$23, $24, $25, $26, $27, $28)"
)


def _pipeline_default(column: str) -> object:
    """What Curio's defaults are for an unset column: false flags, empty reasons, NULLs."""
    if column.startswith("after_") or column == "failed":
        return False
    return "" if column.startswith("failed_reason") else None


def _ago(param: int) -> str:
    """SQL for "``$param`` seconds before now" (a parameter, never text in the statement)."""
    return f"now() - make_interval(secs => ${param})"


async def shift_to(conn: asyncpg.Connection, schema: str, at: datetime) -> None:
    """Move every timestamp of ``schema`` by ``at - now()``: rows written "N seconds ago" by the
    server's clock become N seconds before ``at`` exactly, so a console frozen at ``at`` draws
    the same ages on every run (``now()`` is the transaction's start, one instant for all)."""
    columns = await conn.fetch(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = $1 AND data_type IN "
        "('timestamp with time zone', 'timestamp without time zone') "
        "ORDER BY table_name, column_name",
        schema,
    )
    delta = await conn.fetchval("SELECT $1::timestamptz - now()", at)
    for row in columns:
        table, column = row["table_name"], row["column_name"]
        # identifiers from the catalog of a schema this module made; the shift is a parameter
        await conn.execute(
            f'UPDATE "{schema}"."{table}" SET "{column}" = "{column}" + $1::interval',
            delta,
        )


async def seed_curio(conn: asyncpg.Connection) -> CurioSeed:
    """Rows as Curio's Go code writes them, through ``conn`` (search_path on the schema).

    Machines register with ``INSERT … last_contact = CURRENT_TIMESTAMP`` and bump
    ``last_contact`` once a minute (harmony/resources/resources.go); a machine silent for
    ``LOOKS_DEAD_TIMEOUT`` (10 min) is deleted by the next one to start. Details are upserted
    on ``machine_id`` with comma-joined ``tasks``, ``layers`` and ``miners``
    (cmd/curio/tasks/tasks.go). Tasks are added with ``owner_id`` NULL (``AddTaskByName``) and
    claimed by setting it; a finished attempt writes a history row (``result`` false and
    ``err`` 'preempted' for a preempted one, 'error: …' for a failure) and, for a sector's task,
    ``append_sector_pipeline_events`` (harmony/harmonytask/task_type_handler.go). Storage paths
    carry ``http://host:port/remote`` URLs, comma-separated (lib/paths/db_index.go).
    """
    machines: dict[str, int] = {}
    for host, cpu, ram_gib, gpu, silent_s in (
        ("10.0.0.11:12300", 64, 512, 2.0, 20),  # seals; beat 20 s ago
        ("10.0.0.12:12300", 32, 256, 1.0, 45),  # a GPU box, cordoned below
        ("10.0.0.13:12300", 16, 64, 0.0, 240),  # missed its last three beats
    ):
        machines[host] = await conn.fetchval(
            "INSERT INTO harmony_machines (host_and_port, cpu, ram, gpu, last_contact) "
            f"VALUES ($1, $2, $3, $4, {_ago(5)}) RETURNING id",
            host,
            cpu,
            ram_gib << 30,
            gpu,
            silent_s,
        )
    seal, gpu_box, post = machines.values()
    await conn.execute("UPDATE harmony_machines SET unschedulable = TRUE WHERE id = $1", gpu_box)
    await conn.execute(
        f"UPDATE harmony_machines SET restart_request = {_ago(2)} WHERE id = $1", post, 60
    )
    for machine_id, name, tasks, layers in (
        (
            seal,
            "seal-1",
            "SDR,TreeD,TreeRC,SyntheticProofs,PreCommitBatch,Finalize,MoveStorage,CommitBatch",
            "base,seal",
        ),
        (gpu_box, "gpu-1", "PoRep,UpdateProve", "base,gpu"),
        (post, "post-1", "WdPost,WdPostSubmit,WdPostRecover,WinPost", "base,post"),
    ):
        await conn.execute(
            "INSERT INTO harmony_machine_details "
            "(tasks, layers, startup_time, miners, machine_id, machine_name, version) "
            f"VALUES ($1, $2, {_ago(7)}, $3, $4, $5, $6) "
            "ON CONFLICT (machine_id) DO UPDATE SET tasks = $1, layers = $2, miners = $3, "
            "machine_name = $5, version = $6",
            tasks,
            layers,
            f"f0{SP_ID}",
            machine_id,
            name,
            "1.28.4 e0294b0",
            86_400,
        )

    async def add_task(name: str, posted_s: int, owner: int | None = None, retries: int = 0) -> int:
        task_id: int = await conn.fetchval(
            f"INSERT INTO harmony_task (name, added_by, posted_time) VALUES ($1, $2, {_ago(3)}) "
            "RETURNING id",
            name,
            seal,
            posted_s,
        )
        if owner is not None or retries:
            await conn.execute(
                "UPDATE harmony_task SET owner_id = $1, retries = $2, "
                f"update_time = {_ago(3)} WHERE id = $4",
                owner,
                retries,
                posted_s // 2,
                task_id,
            )
        return task_id

    history: list[int] = []

    async def finished(
        task_id: int, name: str, machine: str, ended_s: int, took_s: int, err: str = "",
        sector: int | None = None,
    ) -> None:  # fmt: skip
        hid: int = await conn.fetchval(
            "INSERT INTO harmony_task_history (task_id, name, posted, work_start, work_end, "
            "result, completed_by_host_and_port, err) "
            f"VALUES ($1, $2, {_ago(3)}, {_ago(4)}, {_ago(5)}, $6, $7, $8) RETURNING id",
            task_id,
            name,
            ended_s + took_s + 30,
            ended_s + took_s,
            ended_s,
            not err,
            machine,
            err,
        )
        history.append(hid)
        if sector is not None:
            await conn.execute(
                "SELECT append_sector_pipeline_events($1, $2, $3)", SP_ID, sector, hid
            )

    host = {v: k for k, v in machines.items()}
    sdr_1 = await add_task("SDR", 900, owner=seal)
    tree_d_2 = await add_task("TreeD", 120)
    porep_3 = await add_task("PoRep", 1800, owner=gpu_box, retries=1)
    wdpost = await add_task("WdPost", 300, owner=post)
    recover = await add_task("WdPostRecover", 60)
    metadata = await add_task("SectorMetadata", 30)
    pending = [tree_d_2, recover, metadata]
    running = [sdr_1, porep_3, wdpost]

    # Attempts that ended: their tasks are gone from harmony_task (ids no longer there).
    done_id = 1000
    for name, machine, sector, ended, took, err in (
        ("SDR", seal, 2, 600, 3000, ""),
        ("TreeD", seal, 3, 5000, 300, ""),
        ("TreeRC", seal, 3, 4500, 200, "preempted"),
        ("TreeRC", seal, 3, 3000, 1200, ""),
        ("SyntheticProofs", seal, 3, 2600, 300, ""),
        ("PreCommitBatch", seal, 3, 2500, 20, ""),
        ("PoRep", gpu_box, 3, 1700, 60, "error: computing snark: gpu out of memory"),
        ("WinPost", post, None, 100, 3, ""),
    ):
        done_id += 1
        await finished(done_id, name, host[machine], ended, took, err, sector)
    await conn.execute(
        "INSERT INTO harmony_task_singletons (task_name, task_id, last_run_time) "
        f"VALUES ('SectorMetadata', $1, {_ago(2)}), ('StorageGCMark', NULL, {_ago(3)})",
        metadata,
        30,
        7200,
    )
    await conn.execute(
        "INSERT INTO harmony_config (title, config) VALUES ($1, $2), ($3, $4)",
        "base",
        '[Subsystems]\nEnableWindowPost = true\n\n[[Addresses]]\nMinerAddresses = ["f01000"]\n',
        "seal",
        "[Subsystems]\nEnableSealSDR = true\nEnableSealSDRTrees = true\n",
    )

    # The sealing pipeline: one sector per stage.
    ticket = bytes(range(32))
    done = dict.fromkeys(("after_sdr", "after_tree_d", "after_tree_c", "after_tree_r"), True)
    precommitted = {
        **done,
        "after_synth": True,
        "after_precommit_msg": True,
        "after_precommit_msg_success": True,
    }
    stages: dict[int, dict[str, object]] = {
        1: {"task_id_sdr": sdr_1},  # SDR running
        2: {"after_sdr": True, "task_id_tree_d": tree_d_2},  # TreeD waiting for a machine
        3: {**precommitted, "task_id_porep": porep_3, "seed_epoch": 4300},  # PoRep, 2nd try
        4: {  # failed at precommit
            **done,
            "after_synth": True,
            "failed": True,
            "failed_reason": "precommit-check",
            "failed_reason_msg": "ticket expired",
        },
        5: {  # committed and moved to long-term storage
            **precommitted,
            "seed_epoch": 3400,
            **dict.fromkeys(
                ("after_porep", "after_finalize", "after_move_storage", "after_commit_msg"), True
            ),
            "after_commit_msg_success": True,
            "commit_msg_cid": "bafy2bzacecommit5",
        },
    }
    rows = []
    for number, stage in stages.items():
        if stage.get("after_tree_r"):
            stage = {
                "tree_d_cid": f"baga6ea4seaqd{number}",
                "tree_r_cid": f"bagboea4b5abcz{number}",
                **stage,
            }
        if stage.get("after_precommit_msg"):
            stage = {"precommit_msg_cid": f"bafy2bzaceprecommit{number}", **stage}
        given = {"sp_id": SP_ID, "sector_number": number, "reg_seal_proof": SEAL_PROOF,
                 "ticket_epoch": 4100 - 100 * number, "ticket_value": ticket, **stage}  # fmt: skip
        rows.append(tuple(given.get(column, _pipeline_default(column)) for column in _PIPELINE))
    await conn.executemany(_INSERT_PIPELINE, rows)
    await conn.execute(f"UPDATE sectors_sdr_pipeline SET failed_at = {_ago(1)} WHERE failed", 1800)
    # Sealed sectors Curio knows on chain (its SectorMetadata task crawls them), this
    # pipeline's sector 5 among them; is_cc as the insert trigger would set it (no pieces).
    await conn.executemany(
        "INSERT INTO sectors_meta (sp_id, sector_num, reg_seal_proof, ticket_epoch, "
        "ticket_value, orig_sealed_cid, orig_unsealed_cid, cur_sealed_cid, cur_unsealed_cid, "
        "msg_cid_precommit, msg_cid_commit, seed_epoch, seed_value, expiration_epoch, is_cc, "
        "deadline, partition) "
        "VALUES ($1, $2, $3, 3000, $4, $5, $6, $5, $6, $7, $8, 3400, $4, 1600000, TRUE, $9, 0)",
        [
            (SP_ID, n, SEAL_PROOF, ticket, f"bagboea4b5abcz{n}", f"baga6ea4seaqd{n}",
             f"bafy2bzaceprecommit{n}", f"bafy2bzacecommit{n}", n % 48)
            for n in (5, 100, 101)
        ],
    )  # fmt: skip

    # A sealing scratch path on seal-1, and a long-term one both boxes reach (NFS): its URLs
    # are both machines' /remote endpoints, comma-separated.
    seal_path = "4e1f0c7a-9b51-4d6e-a7a2-0d3b1e9c5f10"
    store_path = "c2b7d4e9-1a3f-4f08-9e6d-7a5c3b2d1e04"
    store_urls = "http://10.0.0.11:12300/remote,http://10.0.0.12:12300/remote"
    await conn.executemany(
        "INSERT INTO storage_path (storage_id, urls, weight, max_storage, can_seal, can_store, "
        "groups, allow_to, allow_types, deny_types, capacity, available, fs_available, "
        "reserved, used, last_heartbeat, heartbeat_err, allow_miners, deny_miners) "
        "VALUES ($1, $2, 10, 0, $3, $4, '', '', '', '', $5, $6, $6, $7, $8, now(), NULL, '', '')",
        [
            (seal_path, "http://10.0.0.11:12300/remote", True, False,
             4 << 40, 3 << 40, 200 << 30, 1 << 40),
            (store_path, store_urls, False, True, 100 << 40, 60 << 40, 0, 40 << 40),
        ],
    )  # fmt: skip
    await conn.executemany(
        "INSERT INTO sector_location (miner_id, sector_num, sector_filetype, storage_id, "
        "is_primary) VALUES ($1, $2, $3, $4, TRUE)",
        [
            (SP_ID, 1, CACHE, seal_path),
            (SP_ID, 2, CACHE, seal_path),
            (SP_ID, 3, CACHE, seal_path),
            (SP_ID, 3, SEALED, seal_path),
            *[(SP_ID, n, kind, store_path) for n in (5, 100, 101) for kind in (SEALED, CACHE)],
        ],
    )

    await conn.execute(
        "INSERT INTO wdpost_partition_tasks (task_id, sp_id, proving_period_start, "
        "deadline_index, partition_index) VALUES ($1, $2, 4320, 5, 0)",
        wdpost,
        SP_ID,
    )
    await conn.execute(
        "INSERT INTO wdpost_recovery_tasks (task_id, sp_id, proving_period_start, "
        "deadline_index, partition_index) VALUES ($1, $2, 4320, 7, 0)",
        recover,
        SP_ID,
    )
    await conn.execute(
        "INSERT INTO wdpost_proofs (sp_id, proving_period_start, deadline, partition, "
        "submit_at_epoch, submit_by_epoch, proof_params, submit_task_id, message_cid) "
        "VALUES ($1, 4320, 4, 0, 4440, 4500, $2, 1009, 'bafy2bzacewdpost4')",
        SP_ID,
        # SubmitWindowedPoStParams (CBOR): deadline 4, partition 0 skipping nothing, one empty
        # StackedDrgWindow32GiBV1_1 proof, ChainCommitEpoch 4440, no randomness
        bytes.fromhex("8504818200408182 0d40 191158 40"),
    )
    await conn.execute(
        "INSERT INTO mining_tasks (task_id, sp_id, epoch, base_compute_time, won, mined_cid, "
        f"mined_at, submitted_at, included) VALUES (1008, $1, 4499, {_ago(2)}, TRUE, "
        f"'bafy2bzaceblock4499', {_ago(2)}, {_ago(2)}, TRUE), "
        f"(1010, $1, 4500, {_ago(3)}, FALSE, NULL, NULL, NULL, NULL)",
        SP_ID,
        100,
        70,
    )
    return CurioSeed(
        machines=machines,
        pending=pending,
        running=running,
        history=history,
        pipeline=[1, 2, 3, 4, 5],
        storage_ids=[seal_path, store_path],
    )


@contextlib.asynccontextmanager
async def curio_cluster(
    url: str, *, seed: bool = True, at: datetime | None = None
) -> AsyncIterator[CurioCluster]:
    """A fresh ``itest_curio_<id>`` schema on the server at ``url`` with :data:`CURIO_DDL`, its
    ledger and (``seed``) :func:`seed_curio`'s rows; dropped afterwards. Written through a
    plain asyncpg connection as the owner: harmony's DB would (rightly) refuse to.

    ``at`` (aware) seeds it as if now were ``at`` (:func:`shift_to`), for tests that freeze
    the clock there; by default the rows are as old as the server's clock says."""
    schema = f"itest_curio_{secrets.token_hex(5)}"
    conn = await asyncpg.connect(parse_url(url).dsn)
    try:
        async with conn.transaction():
            await create_curio_schema(conn, schema)
            seeded = await seed_curio(conn) if seed else None
            if at is not None:
                await shift_to(conn, schema, at)
    finally:
        await conn.close()
    try:
        yield CurioCluster(url=url, schema=schema, seed=seeded)
    finally:
        conn = await asyncpg.connect(parse_url(url).dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()
