-- Find a sealing sector by the task working on it without scanning the pipeline.
--
-- Every stage task looks its sector(s) up by its task_id_* column (engine/tasks/seal/stage.py,
-- the batches' detail reads), and every harmony_task_history row of a sealing task fires
-- link_sector_pipeline_events(), which looked the sector up with
-- `NEW.task_id IN (p.task_id_sdr, ...)`: an OR over eight columns that no index serves, so each
-- attempt of each stage read the whole of sectors_sdr_pipeline (which keeps every sector ever
-- sealed). One partial index per column: only the rows holding a task id are indexed (most
-- columns are NULL on most rows: not started yet, or cleared on resume), so they stay small.
-- task_id_tree_c is not indexed: it always equals task_id_tree_r and nothing looks it up.

CREATE INDEX IF NOT EXISTS sectors_sdr_pipeline_task_sdr
    ON sectors_sdr_pipeline (task_id_sdr) WHERE task_id_sdr IS NOT NULL;
CREATE INDEX IF NOT EXISTS sectors_sdr_pipeline_task_tree_d
    ON sectors_sdr_pipeline (task_id_tree_d) WHERE task_id_tree_d IS NOT NULL;
CREATE INDEX IF NOT EXISTS sectors_sdr_pipeline_task_tree_r
    ON sectors_sdr_pipeline (task_id_tree_r) WHERE task_id_tree_r IS NOT NULL;
CREATE INDEX IF NOT EXISTS sectors_sdr_pipeline_task_precommit_msg
    ON sectors_sdr_pipeline (task_id_precommit_msg) WHERE task_id_precommit_msg IS NOT NULL;
CREATE INDEX IF NOT EXISTS sectors_sdr_pipeline_task_porep
    ON sectors_sdr_pipeline (task_id_porep) WHERE task_id_porep IS NOT NULL;
CREATE INDEX IF NOT EXISTS sectors_sdr_pipeline_task_finalize
    ON sectors_sdr_pipeline (task_id_finalize) WHERE task_id_finalize IS NOT NULL;
CREATE INDEX IF NOT EXISTS sectors_sdr_pipeline_task_move_storage
    ON sectors_sdr_pipeline (task_id_move_storage) WHERE task_id_move_storage IS NOT NULL;
CREATE INDEX IF NOT EXISTS sectors_sdr_pipeline_task_commit_msg
    ON sectors_sdr_pipeline (task_id_commit_msg) WHERE task_id_commit_msg IS NOT NULL;

-- The same links as before (20261123-07), found with one equality lookup per column so each
-- branch can use its index. A task id is in one column only (each task has one stage), but
-- DISTINCT keeps the old IN's "each sector once" should two columns ever hold the same id.
CREATE OR REPLACE FUNCTION link_sector_pipeline_events() RETURNS TRIGGER AS $$
BEGIN
    PERFORM append_sector_pipeline_events(s.sp_id, s.sector_number, NEW.id)
       FROM (SELECT DISTINCT u.sp_id, u.sector_number
               FROM (SELECT p.sp_id, p.sector_number FROM sectors_sdr_pipeline p
                      WHERE p.task_id_sdr = NEW.task_id
                     UNION ALL
                     SELECT p.sp_id, p.sector_number FROM sectors_sdr_pipeline p
                      WHERE p.task_id_tree_d = NEW.task_id
                     UNION ALL
                     SELECT p.sp_id, p.sector_number FROM sectors_sdr_pipeline p
                      WHERE p.task_id_tree_r = NEW.task_id
                     UNION ALL
                     SELECT p.sp_id, p.sector_number FROM sectors_sdr_pipeline p
                      WHERE p.task_id_precommit_msg = NEW.task_id
                     UNION ALL
                     SELECT p.sp_id, p.sector_number FROM sectors_sdr_pipeline p
                      WHERE p.task_id_porep = NEW.task_id
                     UNION ALL
                     SELECT p.sp_id, p.sector_number FROM sectors_sdr_pipeline p
                      WHERE p.task_id_finalize = NEW.task_id
                     UNION ALL
                     SELECT p.sp_id, p.sector_number FROM sectors_sdr_pipeline p
                      WHERE p.task_id_move_storage = NEW.task_id
                     UNION ALL
                     SELECT p.sp_id, p.sector_number FROM sectors_sdr_pipeline p
                      WHERE p.task_id_commit_msg = NEW.task_id) u) s;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
