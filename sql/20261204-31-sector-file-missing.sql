-- Declared sector files found gone from disk (issue 16, the sector-no-file alert). Only a host
-- that reaches a path can see its files: its storage heartbeat looks every 10 minutes (and
-- redeclare on its walk) for the declared sealed, cache, update and update-cache files of its
-- paths and sets missing_since on the rows whose file is gone, NULL again once it is back (or
-- declared again). The declaration stays: forgetting it is the operator's call (`harmony storage
-- redeclare --drop-missing`). A column Curio lacks, added as sector_size was; the partial index
-- keeps "which files are gone" (the alert's detail, the next look's unmarking) a small read.
ALTER TABLE sector_location ADD COLUMN IF NOT EXISTS missing_since TIMESTAMPTZ;
CREATE INDEX IF NOT EXISTS sector_location_missing
    ON sector_location (storage_id) WHERE missing_since IS NOT NULL;
