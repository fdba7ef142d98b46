-- The cluster's event stream (the console's Events pane, `harmony events`). Most events are
-- derived from what the tables already record (failed attempts in harmony_task_history, failed
-- sectors, won blocks, submitted proofs); this table holds only what no table keeps: a machine
-- joined, left, was declared dead, cordoned, uncordoned, asked to drain or restart, drained; a
-- failed task restarted by hand; a failed sector resumed. Append-only, written by the engine in
-- the same statement or transaction as the change itself, and only when the change happens (a
-- re-sent write finds the state already changed and adds nothing). Pruned with task history.
CREATE TABLE IF NOT EXISTS cluster_events (
    id            BIGSERIAL PRIMARY KEY,
    at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    kind          TEXT NOT NULL,
    machine_id    INTEGER,
    -- the machine's host_and_port when it happened (the row may be forgotten later)
    machine       TEXT,
    task_id       BIGINT,
    task_name     TEXT,
    sp_id         BIGINT,
    sector_number BIGINT,
    message       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS cluster_events_at ON cluster_events (at, id);

-- The event read takes each source's newest rows in a time window through one of these, so a
-- refresh never scans a big table: failed, retried and lost attempts, and the done attempts of
-- the PoSt submissions and recovery declarations, among a million history rows.
CREATE INDEX IF NOT EXISTS harmony_task_history_failures
    ON harmony_task_history (work_end, id) WHERE outcome IN ('retry', 'failed', 'lost');
CREATE INDEX IF NOT EXISTS harmony_task_history_post_done
    ON harmony_task_history (work_end, id)
    WHERE outcome = 'done' AND name IN ('WdPostSubmit', 'WdPostRecover');
CREATE INDEX IF NOT EXISTS sectors_sdr_pipeline_failed_at
    ON sectors_sdr_pipeline (failed_at) WHERE failed;
CREATE INDEX IF NOT EXISTS mining_tasks_won_at ON mining_tasks (base_compute_time) WHERE won;
