-- Remote sector reads (/remote, as Lotus and Curio serve storage paths over HTTP).
--
-- The cluster secret every storage server checks (Authorization: Bearer <hex>): one row, 32
-- random bytes written by the first machine that serves or reads (not here: a migration has no
-- good randomness without pgcrypto). Readable by whoever can read the cluster's tables, like
-- Curio's StorageRPCSecret in its config layers.
CREATE TABLE IF NOT EXISTS harmony_storage_secret (
    id         SMALLINT PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    secret     BYTEA NOT NULL CHECK (octet_length(secret) = 32),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Where each serving process listens: storage_path.urls lists, for every host a path is
-- attached on, the URLs of that host's servers (file://host/dir for a host serving none).
-- A row outlives a killed process; readers then meet a refused connection and try the next URL.
CREATE TABLE IF NOT EXISTS storage_servers (
    url        VARCHAR PRIMARY KEY,
    hostname   VARCHAR NOT NULL,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS storage_servers_hostname ON storage_servers (hostname);
