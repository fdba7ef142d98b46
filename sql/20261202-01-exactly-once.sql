-- Exactly-once when a reply is lost: claims and adds a client can safely send twice, and machine
-- identities that survive containers.

-- A random token per claim call, written on every row that call claims. When the reply to a
-- claim is lost after the server committed it, the retry (same token) reads back the rows the
-- first attempt took instead of claiming new ones and stranding the first batch on a live
-- machine that never heard of them.
ALTER TABLE harmony_task ADD COLUMN IF NOT EXISTS claim_token TEXT;

-- One row per committed add, keyed by a key the client generated before sending it. A retried
-- add whose first attempt did commit finds its key and returns the ids it added then, without
-- adding again or running the adder's `extra` a second time. Kept apart from harmony_task
-- because a task may be done and deleted before the retry arrives; pruned by the adds
-- themselves (claims.py) once older than any retry could be.
CREATE TABLE IF NOT EXISTS harmony_task_adds (
    add_key  TEXT PRIMARY KEY,
    task_ids BIGINT[] NOT NULL DEFAULT '{}',
    added_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS harmony_task_adds_added_at ON harmony_task_adds (added_at);

-- Who holds a machine identity, precisely enough to tell "that process is gone" on this host:
-- a PID alone means nothing in another PID namespace (a container) or after a reboot, and may
-- have been reused. A takeover of a live, heartbeating row requires the same boot, the same
-- PID namespace and that PID no longer running with the recorded start time.
ALTER TABLE harmony_machines ADD COLUMN IF NOT EXISTS boot_id TEXT;
ALTER TABLE harmony_machines ADD COLUMN IF NOT EXISTS pid_namespace TEXT;
ALTER TABLE harmony_machines ADD COLUMN IF NOT EXISTS process_start DOUBLE PRECISION;
