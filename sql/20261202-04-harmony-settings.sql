-- Cluster-wide settings: one value for every machine, read by each at start and at every
-- heartbeat. Before, each machine judged its peers by its own --machine-timeout, so two machines
-- started with different flags disagreed about which peer was dead.
CREATE TABLE IF NOT EXISTS harmony_settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Seconds of silence after which peers declare a machine dead and return its tasks.
INSERT INTO harmony_settings (name, value) VALUES ('machine_timeout', '12')
    ON CONFLICT (name) DO NOTHING;
