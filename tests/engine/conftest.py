"""The engine suite in the YugabyteDB-readiness mode (``HARMONY_TEST_YUGABYTE_MODE=1`` for the
whole suite, ``=engine`` for this directory alone: see ``docs/yugabytedb.md``): the tests that
cannot mean the same there are skipped, each with why.

Every entry is one of two kinds, and says which:

* **NOTIFY under test**: the test is about LISTEN/NOTIFY itself, which the mode refuses.
* **woken only by NOTIFY**: the test freezes the engine's heartbeats (an hour apart) and lets
  a NOTIFY on the machine channel bring the next one; without NOTIFY the next heartbeat does
  what the NOTIFY did, an hour later. (Tests that freeze the engine's clock, a ``ManualClock``,
  run: the ``engines`` fixture gives a polling engine on a frozen clock a poll timer in real
  seconds, tests/conftest.py.)

The engine's own findings of the mode (a message landing at an executed epoch, the chain
learning others' heads and messages only by NOTIFY, a retried first run meeting a test's
barrier again) are fixed, and their tests run in the mode.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.harmonydb.yugabyte_mode import ENGINE, front_if_requested, in_mode

NOTIFY = "NOTIFY under test: the mode refuses LISTEN"
WOKEN = "woken only by NOTIFY: the engine's heartbeats are frozen by the test"

SKIPPED_IN_YUGABYTE_MODE: dict[str, str] = {
    "harmonydb/test_db.py::test_notify_delivers_one_wakeup_per_committed_transaction": NOTIFY,
    "harmonytask/test_bench.py::test_the_engine_benchmark_measures_every_figure[notify]": NOTIFY,
    "harmonytask/test_machines.py::test_cordon_stops_new_claims_within_a_second[notify]": NOTIFY,
    "harmonytask/test_machines.py::test_a_dropped_listener_reconnects_and_catches_up": NOTIFY,
    "faults/test_delay_proxy.py::test_statements_and_notifications_are_counted_per_client": (
        NOTIFY
    ),
    "harmonytask/test_cluster_bench.py::test_a_host_with_added_latency_gives_a_full_row": (
        "NOTIFY under test: the cluster bench measures NOTIFY wake-ups across hosts and "
        "refuses to run without them"
    ),
    "harmonytask/test_machines.py::test_drain_lets_running_tasks_finish_then_reports_drained": (
        WOKEN
    ),
    "harmonytask/test_machines.py::test_a_restart_request_makes_an_idle_machine_exit_100": WOKEN,
    "harmonytask/test_supervision.py::"
    "test_an_error_in_the_heartbeat_loop_ends_the_process_instead_of_the_heartbeats": WOKEN,
}


@pytest.fixture(scope="session")
def pg_url(pg_url: str) -> Iterator[str]:
    """The suite's server; with ``HARMONY_TEST_YUGABYTE_MODE=engine``, through a front of the
    engine tests' own (the rest of the run keeps the server as it is)."""
    with front_if_requested(pg_url, ENGINE) as url:
        yield url


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not in_mode(ENGINE):
        return
    for item in items:
        key = item.nodeid.split("tests/engine/", 1)[-1]
        reason = SKIPPED_IN_YUGABYTE_MODE.get(key)
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=f"YugabyteDB-readiness mode: {reason}"))
