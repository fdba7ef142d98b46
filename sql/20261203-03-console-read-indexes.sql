-- Indexes for the console's bounded reads at ten times the bench's size (`harmony bench console
-- --scale 10`: 100,000 pending tasks).

-- The failed tasks, newest first (the tasks pane's failed list, LIMIT 200): without it every
-- read scanned the whole queue for the few failed rows (12 ms at 100k tasks). Partial, so the
-- claim path, which never sets failed_at, maintains nothing.
CREATE INDEX IF NOT EXISTS harmony_task_failed
    ON harmony_task (failed_at DESC, id DESC) WHERE failed_at IS NOT NULL;
