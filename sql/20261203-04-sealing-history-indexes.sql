-- The console's sealing history (issue 13): each miner's finished sectors, newest (highest
-- number) first, read with one backward probe per miner. sectors_sdr_pipeline keeps every
-- sector ever sealed; without this the probe would step over the sectors still in flight
-- (the newest numbers) row by row. Partial: only finished rows, the same predicate as the
-- statement (engine/snapshot/pipeline.py HISTORY_LATEST).
CREATE INDEX IF NOT EXISTS sectors_sdr_pipeline_finished
    ON sectors_sdr_pipeline (sp_id, sector_number)
    WHERE after_commit_msg_success AND after_move_storage;
