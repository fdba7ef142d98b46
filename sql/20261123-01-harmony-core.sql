-- HarmonyTask core tables, with Curio's table and column names (reference harmony.md 2.1).
-- Columns Curio lacks are added, never renamed; each addition says why.

CREATE TABLE IF NOT EXISTS harmony_machines (
    id              SERIAL PRIMARY KEY,
    last_contact    TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    host_and_port   VARCHAR(300) NOT NULL,
    cpu             INTEGER NOT NULL,
    ram             BIGINT NOT NULL,
    gpu             FLOAT NOT NULL,
    unschedulable   BOOLEAN NOT NULL DEFAULT FALSE,
    restart_request TIMESTAMPTZ,
    -- A token per running process. Heartbeats and claims must match it, so a machine that was
    -- declared dead (session cleared by a peer) learns it on its next heartbeat instead of
    -- silently carrying on. Curio's heartbeat never checks its row count.
    session         TEXT,
    hostname        TEXT,
    pid             INTEGER,
    lost_at         TIMESTAMPTZ,
    -- Drain = cordon + wait for running tasks; the machine itself records when it is empty.
    drain_requested_at TIMESTAMPTZ,
    drained_at      TIMESTAMPTZ,
    -- Live use, sampled at each heartbeat (capacity above is re-sampled too, not boot-only).
    cpu_load        REAL,
    ram_used        BIGINT,
    gpu_used        REAL
);
-- Machine identity: one live process per host_and_port (Curio's is not unique, so two processes
-- could share an id). A restarted process with the same identity takes the row over.
CREATE UNIQUE INDEX IF NOT EXISTS harmony_machines_host_and_port ON harmony_machines (host_and_port);
CREATE INDEX IF NOT EXISTS idx_harmony_machines_unschedulable ON harmony_machines (unschedulable);

CREATE TABLE IF NOT EXISTS harmony_machine_details (
    id           SERIAL PRIMARY KEY,
    tasks        TEXT,
    layers       TEXT,
    startup_time TIMESTAMPTZ,
    miners       TEXT,
    machine_id   INTEGER UNIQUE REFERENCES harmony_machines (id) ON DELETE CASCADE,
    machine_name TEXT,
    version      TEXT
);

CREATE TABLE IF NOT EXISTS harmony_task (
    -- BIGSERIAL, not Curio's SERIAL: at thousands of tasks per second int4 runs out in days.
    id            BIGSERIAL PRIMARY KEY,
    initiated_by  INTEGER,
    update_time   TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    posted_time   TIMESTAMPTZ NOT NULL,
    owner_id      INTEGER REFERENCES harmony_machines (id) ON DELETE SET NULL,
    added_by      INTEGER NOT NULL,
    previous_task INTEGER,
    name          VARCHAR(16) NOT NULL,
    retries       BIGINT NOT NULL DEFAULT 0,
    -- Fencing token: +1 at every claim. Completion, retry and history writes require
    -- owner_id = me AND attempt = k, so a machine that lost the task cannot touch it.
    attempt       INTEGER NOT NULL DEFAULT 0,
    -- Higher runs first; ties go to the oldest posted_time.
    priority      INTEGER NOT NULL DEFAULT 0,
    -- Not claimable before this time (retry wait after a failure).
    retry_after   TIMESTAMPTZ,
    -- When the current attempt started (NULL while pending).
    claimed_at    TIMESTAMPTZ,
    -- Visible dead-letter state instead of Curio's silent delete at MaxFailures.
    failed_at     TIMESTAMPTZ,
    last_error    TEXT
);
CREATE INDEX IF NOT EXISTS harmony_task_pending
    ON harmony_task (name, priority DESC, posted_time, id)
    WHERE owner_id IS NULL AND failed_at IS NULL;
CREATE INDEX IF NOT EXISTS harmony_task_owner
    ON harmony_task (owner_id) WHERE owner_id IS NOT NULL;

-- Parameters of operator-added tasks (`harmony task add TYPE --param k=v`), written in the same
-- transaction as the task by its adder, and gone with it.
CREATE TABLE IF NOT EXISTS harmony_task_params (
    task_id BIGINT PRIMARY KEY REFERENCES harmony_task (id) ON DELETE CASCADE,
    params  JSONB NOT NULL
);

CREATE TABLE IF NOT EXISTS harmony_task_history (
    id                         BIGSERIAL PRIMARY KEY,
    task_id                    BIGINT NOT NULL,
    name                       VARCHAR(16) NOT NULL,
    posted                     TIMESTAMPTZ NOT NULL,
    work_start                 TIMESTAMPTZ NOT NULL,
    work_end                   TIMESTAMPTZ NOT NULL,
    result                     BOOLEAN NOT NULL,
    err                        VARCHAR,
    completed_by_host_and_port VARCHAR(300) NOT NULL,
    -- done | retry | failed | preempted | lost | released: what the attempt led to.
    outcome                    TEXT,
    machine_id                 INTEGER,
    attempt                    INTEGER
);
CREATE INDEX IF NOT EXISTS harmony_task_history_work_end ON harmony_task_history (work_end);
CREATE INDEX IF NOT EXISTS harmony_task_history_task_id ON harmony_task_history (task_id);

CREATE TABLE IF NOT EXISTS harmony_task_singletons (
    task_name       VARCHAR(255) PRIMARY KEY,
    task_id         BIGINT REFERENCES harmony_task (id) ON DELETE SET NULL,
    last_run_time   TIMESTAMPTZ,
    run_now_request BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE IF NOT EXISTS harmony_config (
    id        SERIAL PRIMARY KEY,
    title     VARCHAR(300) UNIQUE NOT NULL,
    config    TEXT NOT NULL,
    timestamp TIMESTAMP NOT NULL DEFAULT NOW()
);
