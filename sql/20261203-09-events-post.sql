-- The event stream's PoSt events (see 20261203-02-cluster-events.sql): a deadline that closed
-- without a WindowPoSt for a partition is recorded by the devnet chain's deadline cron, in its
-- statement, with the deadline and partition it concerns; declared faults are read from the
-- DeclareFaults messages, through this index (the message table holds every sector's PreCommit
-- and ProveCommit too).
ALTER TABLE cluster_events ADD COLUMN IF NOT EXISTS deadline BIGINT;
ALTER TABLE cluster_events ADD COLUMN IF NOT EXISTS "partition" BIGINT;
CREATE INDEX IF NOT EXISTS chain_messages_declared_faults
    ON chain_messages (submitted_at) WHERE method = 'DeclareFaults';
