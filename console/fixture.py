"""A fixed, seeded cluster: what the snapshot tests and ``harmony screenshots`` render.

Every id is explicit and every timestamp is absolute UTC, placed around :data:`FIXED_NOW`, so
with a :class:`~engine.clock.ManualClock` held at that instant the console draws the same screen
on every run, which is what lets the snapshot tests compare screens byte for byte. The chain
runs mainnet's PoSt constants from a genesis of 2025-12-01, so at FIXED_NOW the epoch is 90720:
miner t01000's deadline 3 and miner t01001's deadline 38 are open.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.harmonydb import DB

__all__ = ["FIXED_NOW", "SEED_SQL", "seed"]

FIXED_NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

SEED_SQL = r"""
-- Machines: one per state the console distinguishes.
INSERT INTO harmony_machines (id, host_and_port, cpu, ram, gpu, unschedulable, restart_request,
    session, hostname, pid, lost_at, drain_requested_at, drained_at, cpu_load, ram_used,
    gpu_used, last_contact) VALUES
 (1, 'node-a:worker', 32, 274877906944, 1, false, NULL, 's1', 'node-a', 101, NULL, NULL, NULL,
     0.62, 150323855360, 0.8, '2026-01-01 11:59:58+00'),
 (2, 'node-b:worker', 16, 68719476736, 0, true, NULL, 's2', 'node-b', 102, NULL, NULL, NULL,
     0.15, 12884901888, NULL, '2026-01-01 11:59:57+00'),
 (3, 'node-c:worker', 64, 549755813888, 2, true, NULL, 's3', 'node-c', 103, NULL,
     '2026-01-01 11:40:00+00', NULL, 0.9, 412316860416, 0.5, '2026-01-01 11:59:59+00'),
 (4, 'node-d:worker', 16, 68719476736, 0, true, NULL, 's4', 'node-d', 104, NULL,
     '2026-01-01 10:00:00+00', '2026-01-01 10:20:00+00', 0.02, 4294967296, NULL,
     '2026-01-01 11:59:58+00'),
 (5, 'node-e:worker', 8, 34359738368, 0, false, NULL, 's5', 'node-e', 105, NULL, NULL, NULL,
     0.4, 17179869184, NULL, '2026-01-01 11:58:30+00'),
 (6, 'node-f:worker', 8, 34359738368, 0, false, NULL, NULL, 'node-f', 106,
     '2026-01-01 09:00:00+00', NULL, NULL, NULL, NULL, NULL, '2026-01-01 08:59:48+00'),
 (7, 'ops:console', 4, 17179869184, 0, true, '2026-01-01 11:59:00+00', 's7', 'ops', 107, NULL,
     NULL, NULL, 0.05, 2147483648, NULL, '2026-01-01 11:59:59+00');
-- What the machines' states say happened, as the engine records it (the Events pane).
INSERT INTO cluster_events (at, kind, machine_id, machine, task_id, task_name, sp_id,
    sector_number, message) VALUES
 ('2026-01-01 06:00:00+00', 'machine-joined', 5, 'node-e:worker', NULL, NULL, NULL, NULL,
     'node-e joined (version 0.1.0, 6 task types)'),
 ('2026-01-01 09:00:00+00', 'machine-dead', 6, 'node-f:worker', NULL, NULL, NULL, NULL,
     'no heartbeat since 08:59:48 UTC; declared dead by machine 1, 1 running task(s) '
     || 'returned to the queue'),
 ('2026-01-01 10:00:00+00', 'machine-drain', 4, 'node-d:worker', NULL, NULL, NULL, NULL,
     'drain requested: cordoned, running tasks finish'),
 ('2026-01-01 10:20:00+00', 'machine-drained', 4, 'node-d:worker', NULL, NULL, NULL, NULL,
     'drained: no task runs there any more (drain requested at 10:00:00 UTC)'),
 ('2026-01-01 11:30:00+00', 'machine-cordoned', 2, 'node-b:worker', NULL, NULL, NULL, NULL,
     'cordoned: no new tasks start there'),
 ('2026-01-01 11:40:00+00', 'machine-drain', 3, 'node-c:worker', NULL, NULL, NULL, NULL,
     'drain requested: cordoned, running tasks finish'),
 ('2026-01-01 11:45:00+00', 'task-restarted', NULL, NULL, 9902, 'SDR', NULL, NULL,
     'restarted by hand: retries reset'),
 ('2026-01-01 11:59:00+00', 'machine-restart', 7, 'ops:console', NULL, NULL, NULL, NULL,
     'restart requested: cordoned, restarts once idle');

INSERT INTO harmony_machine_details (id, machine_id, tasks, layers, startup_time,
    machine_name, version) VALUES
 (1, 1, 'SDR,TreeD,TreeRC,SyntheticProofs,PoRep,WdPost,noop,burn', '', '2025-12-30 08:00:00+00',
     'node-a', '0.1.0'),
 (2, 2, 'Finalize,MoveStorage,burn,noop', '', '2025-12-31 22:15:00+00', 'node-b', '0.1.0'),
 (3, 3, 'SDR,TreeD,TreeRC,PoRep,WdPost', '', '2025-12-20 06:00:00+00', 'node-c', '0.1.0'),
 (4, 4, 'noop,sleep', '', '2026-01-01 09:00:00+00', 'node-d', '0.1.0'),
 (5, 5, 'noop,sleep,fail', '', '2026-01-01 11:00:00+00', 'node-e', '0.0.9'),
 (6, 6, 'noop', '', '2025-12-31 20:00:00+00', 'node-f', '0.0.9'),
 (7, 7, 'noop,sleep,burn,fail', '', '2026-01-01 11:30:00+00', 'ops:console', '0.1.0');

-- Tasks: running (owner set), pending, in retry back-off, failed (dead-letter).
INSERT INTO harmony_task (id, initiated_by, update_time, posted_time, owner_id, added_by, name,
    retries, attempt, priority, retry_after, claimed_at, failed_at, last_error) VALUES
 (101, NULL, '2026-01-01 11:20:00+00', '2026-01-01 11:19:00+00', 1, 1, 'SDR', 0, 1, 0, NULL,
     '2026-01-01 11:20:00+00', NULL, NULL),
 (102, NULL, '2026-01-01 11:50:00+00', '2026-01-01 11:49:30+00', 1, 1, 'TreeRC', 0, 1, 0, NULL,
     '2026-01-01 11:50:00+00', NULL, NULL),
 (103, NULL, '2026-01-01 11:57:00+00', '2026-01-01 11:56:10+00', 1, 1, 'PoRep', 0, 1, 0, NULL,
     '2026-01-01 11:57:00+00', NULL, NULL),
 (104, NULL, '2026-01-01 11:58:30+00', '2026-01-01 11:58:00+00', 2, 0, 'burn', 0, 1, 0, NULL,
     '2026-01-01 11:58:30+00', NULL, NULL),
 (105, NULL, '2026-01-01 10:45:00+00', '2026-01-01 10:44:00+00', 3, 3, 'SDR', 0, 1, 0, NULL,
     '2026-01-01 10:45:00+00', NULL, NULL),
 (106, NULL, '2026-01-01 11:59:00+00', '2026-01-01 11:58:55+00', 3, 3, 'WdPost', 0, 1, 10, NULL,
     '2026-01-01 11:59:00+00', NULL, NULL),
 (201, NULL, '2026-01-01 11:30:00+00', '2026-01-01 11:30:00+00', NULL, 1, 'SDR', 0, 0, 0, NULL,
     NULL, NULL, NULL),
 (202, NULL, '2026-01-01 11:31:00+00', '2026-01-01 11:31:00+00', NULL, 1, 'SDR', 0, 0, 0, NULL,
     NULL, NULL, NULL),
 (203, NULL, '2026-01-01 11:45:00+00', '2026-01-01 11:45:00+00', NULL, 1, 'TreeD', 0, 0, 0,
     NULL, NULL, NULL, NULL),
 (204, NULL, '2026-01-01 11:55:00+00', '2026-01-01 11:55:00+00', NULL, 0, 'noop', 0, 0, 0, NULL,
     NULL, NULL, NULL),
 (205, NULL, '2026-01-01 11:55:00+00', '2026-01-01 11:55:00+00', NULL, 0, 'noop', 0, 0, 0, NULL,
     NULL, NULL, NULL),
 (206, NULL, '2026-01-01 11:56:00+00', '2026-01-01 11:56:00+00', NULL, 0, 'noop', 0, 0, 0, NULL,
     NULL, NULL, NULL),
 (207, NULL, '2026-01-01 11:59:40+00', '2026-01-01 11:52:00+00', NULL, 0, 'burn', 2, 2, 0,
     '2026-01-01 12:01:00+00', NULL, NULL, 'worker process 4242 died running burn_cpu'),
 (210, NULL, '2026-01-01 11:35:00+00', '2026-01-01 11:35:00+00', NULL, 2, 'MoveStorage', 0, 0, 0,
     NULL, NULL, NULL, NULL),
 (301, NULL, '2026-01-01 11:40:00+00', '2026-01-01 11:38:00+00', NULL, 0, 'fail', 3, 3, 0,
     '2026-01-01 11:40:05+00', NULL, '2026-01-01 11:40:00+00',
     'RuntimeError: the fail task always fails'),
 (302, NULL, '2026-01-01 09:15:00+00', '2025-12-31 20:05:00+00', NULL, 1, 'TreeD', 3, 3, 0,
     '2026-01-01 09:15:30+00', NULL, '2026-01-01 09:15:00+00',
     'tree_d: CommD mismatch: [piece 0] expected baga6ea4seaq... got baga6ea4seaqd...');

-- History: 540 attempts over the last 6 hours (one every 40 s), every 9th failed, plus one
-- preempted attempt (not a failure) and one attempt outside the 24 h window.
INSERT INTO harmony_task_history (id, task_id, name, posted, work_start, work_end, result, err,
    completed_by_host_and_port, outcome, machine_id, attempt)
SELECT g, 10000 + g,
       (ARRAY['SDR', 'TreeD', 'TreeRC', 'PoRep', 'noop', 'burn'])[1 + g % 6],
       ts - interval '90 seconds', ts - ((1 + g % 6) * interval '20 seconds'), ts,
       g % 9 <> 0,
       CASE WHEN g % 9 = 0 THEN 'exit status 1: task ' || g || ' failed' END,
       (ARRAY['node-a:worker', 'node-b:worker', 'node-c:worker'])[1 + g % 3],
       CASE WHEN g % 9 = 0 THEN 'retry' ELSE 'done' END,
       1 + g % 3, 1
  FROM generate_series(1, 540) AS g,
       LATERAL (SELECT timestamptz '2026-01-01 12:00:00+00' - g * interval '40 seconds') AS t (ts);
-- The last hour, busier and uneven: 2 to 12 attempts a minute, every 11th one failed.
INSERT INTO harmony_task_history (id, task_id, name, posted, work_start, work_end, result, err,
    completed_by_host_and_port, outcome, machine_id, attempt)
SELECT 2000 + m * 20 + k, 20000 + m * 20 + k, (ARRAY['noop', 'burn', 'TreeD'])[1 + k % 3],
       ts - interval '30 seconds', ts - interval '5 seconds', ts, (m + k) % 11 <> 0,
       CASE WHEN (m + k) % 11 = 0 THEN 'exit status 2' END, 'node-b:worker',
       CASE WHEN (m + k) % 11 = 0 THEN 'retry' ELSE 'done' END, 2, 1
  FROM generate_series(0, 59) AS m,
       LATERAL generate_series(1, 2 + (m * 7) % 11) AS k,
       LATERAL (SELECT timestamptz '2026-01-01 11:00:10+00' + m * interval '1 minute'
                       + k * interval '3 seconds') AS t (ts);
INSERT INTO harmony_task_history (id, task_id, name, posted, work_start, work_end, result, err,
    completed_by_host_and_port, outcome, machine_id, attempt) VALUES
 (900, 104, 'burn', '2026-01-01 11:50:00+00', '2026-01-01 11:50:10+00',
     '2026-01-01 11:52:00+00', false, 'preempted by WdPost', 'node-b:worker', 'preempted', 2, 1),
 (901, 9901, 'noop', '2025-12-30 11:00:00+00', '2025-12-30 11:00:01+00',
     '2025-12-30 11:00:02+00', true, NULL, 'node-d:worker', 'done', 4, 1);

-- Storage: a sealing scratch path, two stores (one above 90 %, one above 98 % and stale), and
-- a read-only path whose last heartbeat failed.
INSERT INTO storage_path (storage_id, urls, weight, max_storage, can_seal, can_store, groups,
    allow_to, allow_types, deny_types, capacity, available, fs_available, reserved, used,
    last_heartbeat, heartbeat_err) VALUES
 ('8e7c0d1a-2b4f-4c61-9a7e-0f5d3c2b1a01', 'file://node-a/mnt/nvme1', 10, 0, true, false,
     'seal-a', '', '', '', 2199023255552, 1099511627776, 1319413953331, 219902325555,
     879609302221, '2026-01-01 11:59:55+00', NULL),
 ('3f1e9b7c-5d2a-4e8b-8c6f-1a2b3c4d5e02', 'file://node-b/srv/store1', 10, 0, false, true,
     'store', 'store', 'sealed,cache,unsealed', '', 21990232555520, 1099511627776,
     1209462790553, 0, 20780769764967, '2026-01-01 11:59:52+00', NULL),
 ('c4d5e6f7-0a1b-4c2d-9e3f-4a5b6c7d8e03', 'file://node-b/srv/store2', 5, 0, false, true,
     'store', '', '', 'unsealed', 10995116277760, 54975581388, 87960930222, 0,
     10907155347538, '2026-01-01 11:58:00+00', NULL),
 ('0badf00d-1c2d-4e3f-8a9b-5c6d7e8f9a04', 'file://node-e/mnt/old', 0, 0, false, false, '', '',
     '', '', 4398046511104, 0, 2199023255552, 0, 2199023255552, '2026-01-01 11:59:50+00',
     'statfs /mnt/old: input/output error');
INSERT INTO storage_path_hosts (storage_id, hostname, local_path, attached_at, last_heartbeat,
    heartbeat_err) VALUES
 ('8e7c0d1a-2b4f-4c61-9a7e-0f5d3c2b1a01', 'node-a', '/mnt/nvme1', '2025-12-30 08:00:00+00',
     '2026-01-01 11:59:55+00', NULL),
 ('3f1e9b7c-5d2a-4e8b-8c6f-1a2b3c4d5e02', 'node-b', '/srv/store1', '2025-12-30 08:00:00+00',
     '2026-01-01 11:59:52+00', NULL),
 ('c4d5e6f7-0a1b-4c2d-9e3f-4a5b6c7d8e03', 'node-b', '/srv/store2', '2025-12-30 08:00:00+00',
     '2026-01-01 11:58:00+00', NULL),
 ('0badf00d-1c2d-4e3f-8a9b-5c6d7e8f9a04', 'node-e', '/mnt/old', '2025-12-30 08:00:00+00',
     '2026-01-01 11:59:50+00', 'statfs /mnt/old: input/output error');
INSERT INTO sector_location (miner_id, sector_num, sector_filetype, storage_id, is_primary,
    sector_size)
SELECT 1000, g, ft, '3f1e9b7c-5d2a-4e8b-8c6f-1a2b3c4d5e02', true, 34359738368
  FROM generate_series(1, 60) AS g, (VALUES (2), (4)) AS f (ft);
INSERT INTO sector_location (miner_id, sector_num, sector_filetype, storage_id, is_primary,
    sector_size)
SELECT 1000, g, 1, 'c4d5e6f7-0a1b-4c2d-9e3f-4a5b6c7d8e03', true, 34359738368
  FROM generate_series(1, 12) AS g;
INSERT INTO sector_location (miner_id, sector_num, sector_filetype, storage_id, is_primary,
    sector_size)
SELECT 1000, g, ft, '8e7c0d1a-2b4f-4c61-9a7e-0f5d3c2b1a01', true, 34359738368
  FROM generate_series(1000, 1008) AS g, (VALUES (1), (2), (4)) AS f (ft);
INSERT INTO storage_reservations (id, storage_id, miner_id, sector_num, sector_filetype, task_id,
    machine_id, bytes, on_disk, sector_size, sealing, created_at) VALUES
 (1, '8e7c0d1a-2b4f-4c61-9a7e-0f5d3c2b1a01', 1000, 1000, 4, 101, 1, 242665040281, 22906492245,
     34359738368, true, '2026-01-01 11:20:00+00');

-- The devnet chain with mainnet's PoSt constants.
INSERT INTO chain_config (id, profile, genesis_time, block_time, genesis_seed,
    wpost_proving_period, wpost_challenge_window, wpost_period_deadlines,
    wpost_challenge_lookback, fault_declaration_cutoff, precommit_challenge_delay,
    message_delay_epochs, chain_finality) VALUES
 (1, 'mainnet', '2025-12-01 00:00:00+00', 30, '\x00', 2880, 60, 48, 20, 70, 150, 1, 900);
INSERT INTO chain_tipsets (epoch, beacon, created_at) VALUES
 (90719, '\x01', '2026-01-01 11:59:30+00');
INSERT INTO chain_miners (sp_id, sector_size, reg_seal_proof, proving_period_offset,
    created_epoch, created_at) VALUES
 (1000, 34359738368, 8, 1234, 10, '2025-12-01 00:05:00+00'),
 (1001, 34359738368, 8, 2000, 20, '2025-12-01 00:10:00+00');
-- t01000: 400 sectors over deadlines 0-7, two partitions each; deadline 6 entirely faulty,
-- some of deadline 5 faulty or recovering; t01001: 120 healthy sectors over deadlines 36-39.
INSERT INTO chain_sectors (sp_id, sector_number, state, sealed_cid, unsealed_cid,
    precommit_epoch, activation_epoch, deadline, "partition")
SELECT 1000, g,
       CASE WHEN g % 8 = 6 THEN 'faulty' WHEN g % 8 = 5 AND g % 3 = 0 THEN 'faulty'
            WHEN g % 8 = 5 AND g % 7 = 0 THEN 'recovering' ELSE 'active' END,
       'bagboea4b5abc' || g, 'baga6ea4seaq' || g, 100, 300, g % 8, (g / 8) % 2
  FROM generate_series(1, 400) AS g;
INSERT INTO chain_sectors (sp_id, sector_number, state, sealed_cid, unsealed_cid,
    precommit_epoch, activation_epoch, deadline, "partition")
SELECT 1001, g, 'active', 'bagboea4b5abd' || g, 'baga6ea4seaqd' || g, 200, 400, 36 + g % 4, 0
  FROM generate_series(1, 120) AS g;
INSERT INTO chain_sectors (sp_id, sector_number, state, sealed_cid, unsealed_cid,
    precommit_epoch, activation_epoch, deadline, "partition") VALUES
 (1000, 1004, 'precommitted', 'bagboea4b5abc1004', 'baga6ea4seaq1004', 90600, NULL, NULL, NULL),
 (1000, 1005, 'precommitted', 'bagboea4b5abc1005', 'baga6ea4seaq1005', 90580, NULL, NULL, NULL),
 (1000, 1006, 'precommitted', 'bagboea4b5abc1006', 'baga6ea4seaq1006', 90550, NULL, NULL, NULL),
 (1000, 1007, 'precommitted', 'bagboea4b5abc1007', 'baga6ea4seaq1007', 90400, NULL, NULL, NULL),
 (1000, 1008, 'precommitted', 'bagboea4b5abc1008', 'baga6ea4seaq1008', 90300, NULL, NULL, NULL),
 (1000, 1009, 'terminated', 'bagboea4b5abc1009', 'baga6ea4seaq1009', 80000, 80200, 5, 0);
-- Proven partitions in the current periods (t01000 from epoch 90514, t01001 from 88400).
INSERT INTO chain_post_submissions (sp_id, proving_period_start, deadline, "partition",
    landed_epoch, message_cid) VALUES
 (1000, 90514, 0, 0, 90530, 'bafy2bzacewdpost0a'), (1000, 90514, 0, 1, 90530, 'bafy2bzacewdpost0a'),
 (1000, 90514, 1, 0, 90590, 'bafy2bzacewdpost1a'), (1000, 90514, 1, 1, 90590, 'bafy2bzacewdpost1a'),
 (1000, 90514, 2, 0, 90650, 'bafy2bzacewdpost2a'), (1000, 90514, 2, 1, 90651, 'bafy2bzacewdpost2b'),
 (1000, 90514, 3, 0, 90712, 'bafy2bzacewdpost3a'),
 (1000, 87634, 6, 0, 88000, 'bafy2bzacewdpostold'),
 (1001, 88400, 36, 0, 90580, 'bafy2bzacewdpost36'),
 (1001, 88400, 37, 0, 90640, 'bafy2bzacewdpost37');

-- The sealing pipeline of t01000: one sector at each stage, a failed one, a stuck one whose
-- TreeD task failed, one whose task id is missing from harmony_task, and 60 finished ones.
INSERT INTO sectors_sdr_pipeline (sp_id, sector_number, create_time, reg_seal_proof,
    task_id_sdr, after_sdr, task_id_tree_d, after_tree_d, task_id_tree_c, after_tree_c,
    task_id_tree_r, after_tree_r, task_id_synth, after_synth, precommit_ready_at,
    precommit_msg_cid, task_id_precommit_msg, after_precommit_msg, seed_epoch,
    after_precommit_msg_success, seed_value, task_id_porep, after_porep, task_id_finalize,
    after_finalize, task_id_move_storage, after_move_storage, commit_ready_at, commit_msg_cid,
    task_id_commit_msg, after_commit_msg, after_commit_msg_success, failed, failed_at,
    failed_reason, failed_reason_msg) VALUES
 (1000, 1000, '2026-01-01 11:19:00+00', 8, 101, false, NULL, false, NULL, false, NULL, false,
     NULL, false, NULL, NULL, NULL, false, NULL, false, NULL, NULL, false, NULL, false, NULL,
     false, NULL, NULL, NULL, false, false, false, NULL, '', ''),
 (1000, 1001, '2026-01-01 11:30:00+00', 8, 201, false, NULL, false, NULL, false, NULL, false,
     NULL, false, NULL, NULL, NULL, false, NULL, false, NULL, NULL, false, NULL, false, NULL,
     false, NULL, NULL, NULL, false, false, false, NULL, '', ''),
 (1000, 1002, '2026-01-01 10:00:00+00', 8, 11, true, 12, true, 102, false, 102, false,
     NULL, false, NULL, NULL, NULL, false, NULL, false, NULL, NULL, false, NULL, false, NULL,
     false, NULL, NULL, NULL, false, false, false, NULL, '', ''),
 (1000, 1003, '2026-01-01 08:00:00+00', 8, 21, true, 22, true, 23, true, 23, true,
     24, true, '2026-01-01 11:00:00+00', NULL, NULL, false, NULL, false, NULL, NULL, false, NULL,
     false, NULL, false, NULL, NULL, NULL, false, false, false, NULL, '', ''),
 (1000, 1004, '2026-01-01 07:00:00+00', 8, 31, true, 32, true, 33, true, 33, true,
     34, true, '2026-01-01 10:30:00+00', 'bafy2bzacepc1004', 35, true, NULL, false, NULL, NULL,
     false, NULL, false, NULL, false, NULL, NULL, NULL, false, false, false, NULL, '', ''),
 (1000, 1005, '2026-01-01 06:00:00+00', 8, 41, true, 42, true, 43, true, 43, true,
     44, true, '2026-01-01 10:00:00+00', 'bafy2bzacepc1005', 45, true, 90730, true, NULL, NULL,
     false, NULL, false, NULL, false, NULL, NULL, NULL, false, false, false, NULL, '', ''),
 (1000, 1006, '2026-01-01 05:00:00+00', 8, 51, true, 52, true, 53, true, 53, true,
     54, true, '2026-01-01 09:00:00+00', 'bafy2bzacepc1006', 55, true, 90700, true, '\x06', 103,
     false, NULL, false, NULL, false, NULL, NULL, NULL, false, false, false, NULL, '', ''),
 (1000, 1007, '2026-01-01 04:00:00+00', 8, 61, true, 62, true, 63, true, 63, true,
     64, true, '2026-01-01 08:00:00+00', 'bafy2bzacepc1007', 65, true, 90500, true, '\x07', 66,
     true, 67, true, 210, false, '2026-01-01 11:30:00+00', NULL, NULL, false, false, false, NULL,
     '', ''),
 (1000, 1008, '2026-01-01 03:00:00+00', 8, 71, true, 72, true, 73, true, 73, true,
     74, true, '2026-01-01 07:00:00+00', 'bafy2bzacepc1008', 75, true, 90400, true, '\x08', 76,
     true, 77, true, 78, true, '2026-01-01 10:00:00+00', 'bafy2bzacecm1008', 79, true, false,
     false, NULL, '', ''),
 (1000, 1010, '2026-01-01 02:00:00+00', 8, 81, true, 82, true, 83, true, 83, true,
     84, true, '2026-01-01 06:00:00+00', NULL, 85, false, NULL, false, NULL, NULL, false, NULL,
     false, NULL, false, NULL, NULL, NULL, false, false, true, '2026-01-01 09:30:00+00',
     'precommit-check',
     'precommit check error: ticket expired: ticket epoch 85000 is older than 87840'),
 (1000, 1011, '2025-12-31 20:00:00+00', 8, 91, true, 302, false, NULL, false, NULL, false,
     NULL, false, NULL, NULL, NULL, false, NULL, false, NULL, NULL, false, NULL, false, NULL,
     false, NULL, NULL, NULL, false, false, false, NULL, '', ''),
 (1000, 1012, '2026-01-01 11:00:00+00', 8, 92, true, 999, false, NULL, false, NULL, false,
     NULL, false, NULL, NULL, NULL, false, NULL, false, NULL, NULL, false, NULL, false, NULL,
     false, NULL, NULL, NULL, false, false, false, NULL, '', ''),
 (1001, 2000, '2026-01-01 11:40:00+00', 8, NULL, false, NULL, false, NULL, false, NULL, false,
     NULL, false, NULL, NULL, NULL, false, NULL, false, NULL, NULL, false, NULL, false, NULL,
     false, NULL, NULL, NULL, false, false, false, NULL, '', '');
INSERT INTO sectors_sdr_pipeline (sp_id, sector_number, create_time, reg_seal_proof, after_sdr,
    after_tree_d, after_tree_c, after_tree_r, after_synth, precommit_ready_at,
    after_precommit_msg, seed_epoch, after_precommit_msg_success, seed_value, after_porep,
    after_finalize, after_move_storage, commit_ready_at, after_commit_msg,
    after_commit_msg_success)
SELECT 1000, g, timestamptz '2025-12-31 00:00:00+00' + g * interval '10 minutes', 8, true, true,
       true, true, true, timestamptz '2025-12-31 04:00:00+00' + g * interval '10 minutes', true,
       80000 + g, true, '\x01', true, true, true,
       timestamptz '2025-12-31 06:00:00+00' + g * interval '10 minutes', true, true
  FROM generate_series(1, 60) AS g;
-- The TreeRC sector's event log: its SDR and TreeD attempts.
INSERT INTO sectors_pipeline_events (sp_id, sector_number, task_history_ids) VALUES
 (1000, 1002, ARRAY[60, 66]::bigint[]);
-- The finished sectors' attempts (the sealing history), all on Dec 31 before 12:00, outside
-- the 24 h window the other views count: each stage once, SDR a little longer every sector,
-- and every 10th sector's TreeD failed once first.
INSERT INTO harmony_task_history (id, task_id, name, posted, work_start, work_end, result, err,
    completed_by_host_and_port, outcome, machine_id, attempt)
SELECT 30000 + g * 10 + s.k, 50000 + g * 10 + s.k, s.name, c + s.a * interval '1 minute',
       c + s.a * interval '1 minute' + interval '5 seconds',
       c + s.b * interval '1 minute' + CASE WHEN s.k = 0 THEN g * interval '7 seconds'
                                            ELSE interval '0 seconds' END,
       s.k <> 9, CASE WHEN s.k = 9 THEN 'tree_d: CommD mismatch' END,
       CASE WHEN s.k IN (0, 1, 2, 9) THEN 'node-a:worker' ELSE 'node-c:worker' END,
       CASE WHEN s.k = 9 THEN 'retry' ELSE 'done' END,
       CASE WHEN s.k IN (0, 1, 2, 9) THEN 1 ELSE 3 END, CASE WHEN s.k = 1 AND g % 10 = 0
                                                           THEN 2 ELSE 1 END
  FROM generate_series(1, 60) AS g,
       LATERAL (SELECT timestamptz '2025-12-31 00:00:00+00' + g * interval '10 minutes') AS t (c),
       LATERAL (VALUES (0, 'SDR', 1, 31), (1, 'TreeD', 32, 37), (2, 'TreeRC', 38, 50),
                       (3, 'PreCommitBatch', 52, 53), (4, 'PoRep', 60, 68),
                       (5, 'CommitBatch', 70, 71), (6, 'Finalize', 72, 74),
                       (7, 'MoveStorage', 75, 79), (9, 'TreeD', 31, 32)) AS s (k, name, a, b)
 WHERE s.k <> 9 OR g % 10 = 0;
INSERT INTO sectors_pipeline_events (sp_id, sector_number, task_history_ids)
SELECT 1000, (id - 30000) / 10, array_agg(id ORDER BY work_start)
  FROM harmony_task_history
 WHERE id BETWEEN 30010 AND 30609
 GROUP BY (id - 30000) / 10;

-- Alerts, as the checks word them for what this cluster shows: the TreeD task failed for good
-- (critical: sealing), the path whose disk check failed (acknowledged), the fail task (muted
-- until 13:00), and one cleared alert that the inbox no longer lists.
INSERT INTO harmony_alerts (check_name, subject, severity, message, links, first_seen,
    last_seen, cleared_at, acked_by, acked_at, muted_until, muted_by) VALUES
 ('task-failed', 'TreeD', 'critical',
     '1 TreeD task(s) failed for good (ids 302); last error: tree_d: CommD mismatch: [piece 0] '
     || 'expected baga6ea4seaq... got baga6ea4seaqd.... Fix the cause, then `harmony task '
     || 'restart ID` (or remove them).',
     '{"task_type": "TreeD", "task_ids": [302]}', '2026-01-01 09:16:00+00',
     '2026-01-01 11:56:00+00', NULL, NULL, NULL, NULL, NULL),
 ('storage-path', '0badf00d-1c2d-4e3f-8a9b-5c6d7e8f9a04 on node-e', 'warning',
     'storage path 0badf00d-1c2d-4e3f-8a9b-5c6d7e8f9a04 on node-e: its disk check failed '
     || '(statfs /mnt/old: input/output error); nothing is placed on it and its sectors may not '
     || 'be provable. Fix the disk or mount; the next heartbeat clears this.',
     '{"path": "0badf00d-1c2d-4e3f-8a9b-5c6d7e8f9a04", "host": "node-e"}',
     '2026-01-01 11:01:00+00', '2026-01-01 11:56:00+00', NULL, 'ops', '2026-01-01 11:10:00+00',
     NULL, NULL),
 ('task-failed', 'fail', 'warning',
     '1 fail task(s) failed for good (ids 301); last error: RuntimeError: the fail task always '
     || 'fails. Fix the cause, then `harmony task restart ID` (or remove them).',
     '{"task_type": "fail", "task_ids": [301]}', '2026-01-01 11:41:00+00',
     '2026-01-01 11:56:00+00', NULL, NULL, NULL, '2026-01-01 13:00:00+00', 'ops'),
 ('chain-stalled', 'chain', 'critical', 'the chain head has not advanced for 5m.',
     '{}', '2026-01-01 08:00:00+00', '2026-01-01 08:05:00+00', '2026-01-01 08:06:00+00', NULL,
     NULL, NULL, NULL);
"""


async def seed(db: DB) -> None:
    """Load the fixed cluster into ``db``'s (fresh, migrated) schema."""
    await db.exec(SEED_SQL)
