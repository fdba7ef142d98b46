-- Which filesystem each host sees a storage path on: two paths on one disk must be counted once
-- in the cluster's totals (the console added the same 252 G disk once per path). The storage
-- heartbeat records the directory's st_dev on that host; (hostname, fs_id) names a filesystem,
-- and paths that share one on any host share it (an NFS export attached on several hosts
-- carries a different st_dev on each). NULL until the path's first heartbeat after upgrade.
ALTER TABLE storage_path_hosts ADD COLUMN IF NOT EXISTS fs_id TEXT;
