-- Alerts (issue 16): what the AlertEval singleton found, one row per (check, subject), kept
-- while it lasts and after it clears (until pruned), with the operator's acknowledgement and
-- mute; and a bounded history of what happened to each (raised, changed, cleared, acked,
-- muted), pruned with task history. Our own tables: a Curio schema is never migrated.
CREATE TABLE IF NOT EXISTS harmony_alerts (
    id          BIGSERIAL PRIMARY KEY,
    check_name  TEXT NOT NULL,
    -- what the alert is about, e.g. 't01000 dl3 p0', 'storage 4c1e.. on host-a', 'SDR'
    subject     TEXT NOT NULL,
    severity    TEXT NOT NULL CHECK (severity IN ('critical', 'warning', 'info')),
    message     TEXT NOT NULL,
    -- what the console links to: {"miner": 1000, "deadline": 3, "sector": 7, "path": "..",
    -- "machine": "host:port", "task_type": "SDR", "task_id": 12}
    links       JSONB NOT NULL DEFAULT '{}',
    first_seen  TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen   TIMESTAMPTZ NOT NULL DEFAULT now(),
    cleared_at  TIMESTAMPTZ,
    acked_by    TEXT,
    acked_at    TIMESTAMPTZ,
    muted_until TIMESTAMPTZ,
    muted_by    TEXT,
    -- what the webhook receiver was last told: NULL (nothing), 'firing' or 'resolved'
    notified    TEXT CHECK (notified IN ('firing', 'resolved')),
    CONSTRAINT harmony_alerts_check_subject UNIQUE (check_name, subject)
);
CREATE INDEX IF NOT EXISTS harmony_alerts_open
    ON harmony_alerts (first_seen, id) WHERE cleared_at IS NULL;
CREATE INDEX IF NOT EXISTS harmony_alerts_cleared
    ON harmony_alerts (cleared_at) WHERE cleared_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS harmony_alert_history (
    id         BIGSERIAL PRIMARY KEY,
    alert_id   BIGINT NOT NULL,
    at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    event      TEXT NOT NULL
        CHECK (event IN ('raised', 'changed', 'cleared', 'acked', 'muted', 'unmuted')),
    check_name TEXT NOT NULL,
    subject    TEXT NOT NULL,
    severity   TEXT NOT NULL,
    message    TEXT NOT NULL,
    by_whom    TEXT
);
CREATE INDEX IF NOT EXISTS harmony_alert_history_at ON harmony_alert_history (at, id);
CREATE INDEX IF NOT EXISTS harmony_alert_history_alert ON harmony_alert_history (alert_id, id);
