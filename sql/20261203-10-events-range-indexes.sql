-- The event read's indexes (20261203-02, -09) again, in range order written out: YugabyteDB
-- shards an index's first column by HASH unless told ASC or DESC, and a hash index cannot
-- give a time window's newest rows in order (each branch of the read would scan its table).
-- On PostgreSQL ASC is the default, so these are the same indexes under new names.
CREATE INDEX IF NOT EXISTS cluster_events_at_range ON cluster_events (at ASC, id ASC);
DROP INDEX IF EXISTS cluster_events_at;
CREATE INDEX IF NOT EXISTS harmony_task_history_failures_range
    ON harmony_task_history (work_end ASC, id ASC) WHERE outcome IN ('retry', 'failed', 'lost');
DROP INDEX IF EXISTS harmony_task_history_failures;
CREATE INDEX IF NOT EXISTS harmony_task_history_post_done_range
    ON harmony_task_history (work_end ASC, id ASC)
    WHERE outcome = 'done' AND name IN ('WdPostSubmit', 'WdPostRecover');
DROP INDEX IF EXISTS harmony_task_history_post_done;
CREATE INDEX IF NOT EXISTS sectors_sdr_pipeline_failed_at_range
    ON sectors_sdr_pipeline (failed_at ASC) WHERE failed;
DROP INDEX IF EXISTS sectors_sdr_pipeline_failed_at;
CREATE INDEX IF NOT EXISTS mining_tasks_won_at_range
    ON mining_tasks (base_compute_time ASC) WHERE won;
DROP INDEX IF EXISTS mining_tasks_won_at;
CREATE INDEX IF NOT EXISTS chain_messages_declared_faults_range
    ON chain_messages (submitted_at ASC) WHERE method = 'DeclareFaults';
DROP INDEX IF EXISTS chain_messages_declared_faults;
