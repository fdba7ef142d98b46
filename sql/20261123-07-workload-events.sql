-- Link every attempt of a sealing stage to its sector(s): Curio's engine calls
-- append_sector_pipeline_events() after writing harmony_task_history; here a trigger does it in
-- the same statement, so the per-sector event log never misses an attempt (done, failed,
-- preempted) whichever machine recorded it. A batch task's row is linked to every sector of
-- the batch.

CREATE OR REPLACE FUNCTION link_sector_pipeline_events() RETURNS TRIGGER AS $$
BEGIN
    PERFORM append_sector_pipeline_events(p.sp_id, p.sector_number, NEW.id)
       FROM sectors_sdr_pipeline p
      WHERE NEW.task_id IN (p.task_id_sdr, p.task_id_tree_d, p.task_id_tree_r,
                            p.task_id_precommit_msg, p.task_id_porep, p.task_id_finalize,
                            p.task_id_move_storage, p.task_id_commit_msg);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS harmony_task_history_sector_events ON harmony_task_history;
CREATE TRIGGER harmony_task_history_sector_events
    AFTER INSERT ON harmony_task_history
    FOR EACH ROW
    WHEN (NEW.name IN ('SDR', 'TreeD', 'TreeRC', 'PreCommitBatch', 'PoRep', 'Finalize',
                       'MoveStorage', 'CommitBatch'))
    EXECUTE FUNCTION link_sector_pipeline_events();
