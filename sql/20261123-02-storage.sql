-- Storage paths, sector file locations, space reservations and the move journal
-- (reference domain.md 2.1, Curio 20230712-sector_index.sql + 20240401-storage-miner-filter.sql).
-- Curio's tables keep Curio's table and column names; columns Curio lacks are added, never
-- renamed, and each addition says why. Every statement is re-runnable.

CREATE TABLE IF NOT EXISTS storage_path (
    -- The ID from the path's sectorstore.json: stable across re-attaches and across hosts.
    storage_id     VARCHAR PRIMARY KEY,
    -- Comma-separated file://<host>/<dir> URLs, one per host the path is attached on (Curio:
    -- http://host:port/remote). Derived from storage_path_hosts, kept for Curio's readers.
    urls           VARCHAR NOT NULL DEFAULT '',
    weight         BIGINT NOT NULL DEFAULT 10,
    max_storage    BIGINT NOT NULL DEFAULT 0,
    can_seal       BOOLEAN NOT NULL DEFAULT FALSE,
    can_store      BOOLEAN NOT NULL DEFAULT FALSE,
    groups         VARCHAR NOT NULL DEFAULT '',
    allow_to       VARCHAR NOT NULL DEFAULT '',
    allow_types    VARCHAR NOT NULL DEFAULT '',
    deny_types     VARCHAR NOT NULL DEFAULT '',
    allow_miners   VARCHAR NOT NULL DEFAULT '',
    deny_miners    VARCHAR NOT NULL DEFAULT '',
    capacity       BIGINT NOT NULL DEFAULT 0,
    available      BIGINT NOT NULL DEFAULT 0,
    fs_available   BIGINT NOT NULL DEFAULT 0,
    reserved       BIGINT NOT NULL DEFAULT 0,
    used           BIGINT NOT NULL DEFAULT 0,
    -- NULL until the first heartbeat: a path nobody has measured is never allocated to.
    last_heartbeat TIMESTAMPTZ,
    heartbeat_err  VARCHAR
);

-- Which host reaches a path, at which local directory (Curio keeps only the URL list). Several
-- hosts may share one path (NFS). Health is kept per host too, so one host that lost its mount
-- neither hides the path from the hosts that still see it nor makes it look healthy to itself.
CREATE TABLE IF NOT EXISTS storage_path_hosts (
    storage_id     VARCHAR NOT NULL REFERENCES storage_path (storage_id) ON DELETE CASCADE,
    hostname       TEXT NOT NULL,
    local_path     TEXT NOT NULL,
    attached_at    TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_heartbeat TIMESTAMPTZ,
    heartbeat_err  VARCHAR,
    PRIMARY KEY (storage_id, hostname),
    -- One storage path per directory per host.
    UNIQUE (hostname, local_path)
);

CREATE TABLE IF NOT EXISTS sector_location (
    miner_id         BIGINT NOT NULL,
    sector_num       BIGINT NOT NULL,
    -- One bit of the file-type mask (unsealed=1, sealed=2, cache=4, ...).
    sector_filetype  INTEGER NOT NULL
        CHECK (sector_filetype > 0 AND (sector_filetype & (sector_filetype - 1)) = 0),
    -- Curio has no foreign key; with one, detaching a path's last host drops its locations
    -- (as Curio's StorageDetach does by hand) and nothing can be declared on an unknown path.
    storage_id       VARCHAR NOT NULL REFERENCES storage_path (storage_id) ON DELETE CASCADE,
    is_primary       BOOLEAN NOT NULL DEFAULT FALSE,
    read_ts          TIMESTAMPTZ,
    read_refs        INTEGER NOT NULL DEFAULT 0,
    write_ts         TIMESTAMPTZ,
    write_lock_owner VARCHAR,
    -- Size of the sector the file belongs to, when the declarer knew it: lets redeclare tell a
    -- truncated sealed/unsealed file from a whole one.
    sector_size      BIGINT,
    PRIMARY KEY (miner_id, sector_num, sector_filetype, storage_id)
);
CREATE INDEX IF NOT EXISTS sector_location_storage_id ON sector_location (storage_id);

-- Space promised to in-flight work, visible to every machine (Curio holds it in the memory of
-- one process). A row counts only while its machine is alive and still owns the task: see the
-- view below. bytes - on_disk is what is still to come (on_disk is refreshed by the heartbeat).
CREATE TABLE IF NOT EXISTS storage_reservations (
    id              BIGSERIAL PRIMARY KEY,
    storage_id      VARCHAR NOT NULL REFERENCES storage_path (storage_id) ON DELETE CASCADE,
    miner_id        BIGINT NOT NULL,
    sector_num      BIGINT NOT NULL,
    sector_filetype INTEGER NOT NULL
        CHECK (sector_filetype > 0 AND (sector_filetype & (sector_filetype - 1)) = 0),
    task_id         BIGINT NOT NULL REFERENCES harmony_task (id) ON DELETE CASCADE,
    machine_id      INTEGER NOT NULL REFERENCES harmony_machines (id) ON DELETE CASCADE,
    bytes           BIGINT NOT NULL CHECK (bytes >= 0),
    on_disk         BIGINT NOT NULL DEFAULT 0,
    sector_size     BIGINT NOT NULL,
    sealing         BOOLEAN NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (storage_id, sector_filetype, miner_id, sector_num, task_id)
);
CREATE INDEX IF NOT EXISTS storage_reservations_task ON storage_reservations (task_id);
CREATE INDEX IF NOT EXISTS storage_reservations_machine ON storage_reservations (machine_id);

-- Reservations that still count: the machine is alive (row present, session set) and still owns
-- the task. Anything else is a leftover of a dead machine or a lost task and is ignored at once
-- (and deleted by the next heartbeat).
CREATE OR REPLACE VIEW storage_reservations_live AS
SELECT r.*
FROM storage_reservations r
JOIN harmony_machines m ON m.id = r.machine_id AND m.session IS NOT NULL
JOIN harmony_task t ON t.id = r.task_id AND t.owner_id = r.machine_id;

-- Journal of sector file moves, so a move killed after its new location was declared can have
-- the old copy removed later (recover_moves). 'copying' = not yet declared at the destination;
-- 'switched' = the destination is declared and the source is not.
CREATE TABLE IF NOT EXISTS storage_moves (
    id              BIGSERIAL PRIMARY KEY,
    miner_id        BIGINT NOT NULL,
    sector_num      BIGINT NOT NULL,
    sector_filetype INTEGER NOT NULL,
    src_storage_id  VARCHAR NOT NULL REFERENCES storage_path (storage_id) ON DELETE CASCADE,
    dst_storage_id  VARCHAR NOT NULL REFERENCES storage_path (storage_id) ON DELETE CASCADE,
    hostname        TEXT NOT NULL,
    temp_name       TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('copying', 'switched')),
    started_at      TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
    switched_at     TIMESTAMPTZ
);
-- One move per sector file at a time: two movers of one file could otherwise replace each
-- other's finished copy.
CREATE UNIQUE INDEX IF NOT EXISTS storage_moves_one_per_file
    ON storage_moves (miner_id, sector_num, sector_filetype) WHERE state = 'copying';
