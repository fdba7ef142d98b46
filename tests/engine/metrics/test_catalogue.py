"""The catalogue of metrics against a real scrape, the dashboard against the catalogue, and
the listen address: what an operator types and what a taken port says."""

from __future__ import annotations

import re

import pytest

from engine.harmonydb import DB
from engine.metrics import (
    CATALOGUE,
    MetricsListenError,
    dashboard_queries,
    load_dashboard,
    metric_names,
    parse_listen,
    start_metrics,
)
from engine.metrics.tasks import RUN_BUCKETS, Histogram

from .test_scrape import Served, scrape

# the fixture of test_scrape: an engine that ran tasks, with its endpoint
from .test_scrape import served as served


async def test_a_scrape_shows_every_family_of_the_catalogue_and_no_other(served: Served) -> None:
    await served.db.exec(
        "INSERT INTO storage_path (storage_id, capacity, available, last_heartbeat) "
        "VALUES ('p1', 10, 5, now())"
    )
    got = await scrape(served.url)
    ours = {name for name in got.families if name.startswith("harmony_")}
    assert ours == {spec.family for spec in CATALOGUE}
    for spec in CATALOGUE:
        kind = "gauge" if spec.kind == "info" else spec.kind
        assert got.families[spec.family] == kind, spec.name
    shown = {s.name for s in got.samples if s.name.startswith("harmony_")}
    assert shown <= set(metric_names())
    for sample in got.samples:
        if sample.name.startswith("harmony_"):
            spec = next(s for s in CATALOGUE if sample.name in s.samples)
            assert set(sample.labels) - {"le"} == set(spec.labels), sample


def test_every_dashboard_query_reads_metrics_the_catalogue_has() -> None:
    board = load_dashboard()
    assert board["uid"] and board["panels"]
    queries = dashboard_queries(board)
    assert len(queries) > 20
    known = set(metric_names())
    used = set()
    for query in queries:
        names = set(re.findall(r"\bharmony_[a-z0-9_]+", query))
        assert names, f"no harmony metric in {query!r}"
        assert names <= known, f"{query!r} reads {names - known}"
        used |= names
    # every family has a panel (histograms through their buckets, sums or counts)
    for spec in CATALOGUE:
        assert set(spec.samples) & used, f"no panel shows {spec.name}"


def test_histogram_buckets_are_cumulative_and_end_in_inf() -> None:
    h = Histogram(RUN_BUCKETS)
    for value in (0.001, 0.005, 0.2, 5000.0, 10**6):
        h.observe(value)
    buckets, total = h.cumulative()
    assert buckets[0] == ("0.005", 2)  # le: 0.005 itself is in the first bucket
    assert buckets[-1] == ("+Inf", 5)
    assert [n for _, n in buckets] == sorted(n for _, n in buckets)
    assert total == pytest.approx(0.001 + 0.005 + 0.2 + 5000.0 + 10**6)


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("9464", "127.0.0.1", 9464),
        (":9464", "127.0.0.1", 9464),
        ("0.0.0.0:9464", "0.0.0.0", 9464),
        ("[::1]:9464", "::1", 9464),
        ("metrics.local:0", "metrics.local", 0),
    ],
)
def test_listen_addresses(text: str, host: str, port: int) -> None:
    address = parse_listen(text)
    assert (address.host, address.port) == (host, port)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("host:http", "not a number"),
        ("70000", "0-65535"),
        ("::1:9464", "brackets"),
        ("[nope]:1", "not an IPv6"),
    ],
)
def test_bad_listen_addresses_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_listen(text)


async def test_a_taken_port_fails_the_start_naming_the_address(db: DB) -> None:
    first = await start_metrics("127.0.0.1:0", db)
    try:
        port = first.addresses[0][1]
        with pytest.raises(MetricsListenError, match=f"127.0.0.1:{port}"):
            await start_metrics(f"127.0.0.1:{port}", db)
    finally:
        await first.close()
