-- Indexes for the console's bounded reads (measured with `harmony bench console`).

-- The per-sector stage strip lists the oldest sectors still in the pipeline: with this index it
-- reads the first N of them in order instead of sorting the whole table at every refresh.
CREATE INDEX IF NOT EXISTS sectors_sdr_pipeline_in_progress
    ON sectors_sdr_pipeline (create_time, sp_id, sector_number)
    WHERE NOT (after_commit_msg_success AND after_move_storage);
