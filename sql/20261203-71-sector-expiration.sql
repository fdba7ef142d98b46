-- Sector expirations on the devnet chain (issue 16).
-- The sector lifetime policy of the chain's profile (builtin-actors' MinSectorExpiration,
-- MaxSectorExpirationExtension, MaxProveCommitDuration), in epochs. NULL (chains created before
-- this migration, and the stock profiles) means Filecoin's policy in the profile's days, a day
-- being one proving period (mainnet: 2880 epochs; devnet: 480): 180 days, 1278 days,
-- 30 days + the PreCommit challenge delay.
ALTER TABLE chain_config ADD COLUMN IF NOT EXISTS min_sector_expiration BIGINT;
ALTER TABLE chain_config ADD COLUMN IF NOT EXISTS max_sector_expiration_extension BIGINT;
ALTER TABLE chain_config ADD COLUMN IF NOT EXISTS max_prove_commit_duration BIGINT;
-- Why and when a 'terminated' sector left its partition's live set: 'expired' (its on-time
-- expiration, processed by the cron at the end of its deadline, as builtin-actors'
-- expiration queue does) or 'faulty' (faulty for the fault max age: an early termination).
-- Both are in the partition's Terminated bitfield on chain.
ALTER TABLE chain_sectors ADD COLUMN IF NOT EXISTS termination TEXT;
ALTER TABLE chain_sectors ADD COLUMN IF NOT EXISTS terminated_epoch BIGINT;
