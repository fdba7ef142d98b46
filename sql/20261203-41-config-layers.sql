-- Configuration layers (`harmony config set/get/list/rm/edit`, `harmony run --layers a,b`): one
-- TOML document per layer, merged in order over the defaults when a machine starts. Not named
-- harmony_config: that is Curio's table, with Curio's own TOML (another key set), and harmony
-- reads a Curio schema's layers without ever writing them. The text is stored as the operator
-- wrote it (comments kept); `version` grows with every change, so an edit that started from an
-- older version is refused instead of overwriting a change made meanwhile.
CREATE TABLE IF NOT EXISTS harmony_config_layer (
    title      TEXT PRIMARY KEY,
    config     TEXT NOT NULL,
    version    BIGINT NOT NULL DEFAULT 1,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
