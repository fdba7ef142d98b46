-- WdPostRecover records the cid of the DeclareFaultsRecovered message it sent, in the same
-- transaction that inserts the message: a retry (after a crash between that commit and the task
-- being marked done) sees it and does not declare the same recoveries a second time.

ALTER TABLE wdpost_recovery_tasks ADD COLUMN IF NOT EXISTS message_cid TEXT;
