"""Open alerts on the metrics endpoint: counted by check, severity and state, and listed with
their first-seen time (capped), read in the cached cluster refresh from ``harmony_alerts`` as
the alerts store wrote it."""

from __future__ import annotations

import pytest

from engine.alerts import Finding, Severity, ack, list_alerts, mute, record
from engine.harmonydb import DB
from engine.metrics import start_metrics
from engine.metrics.cluster import read_alerts

from .test_scrape import scrape

CHECK, OTHER = "storage-path", "wdpost-missed"
FIRST_SEEN = "harmony_alert_first_seen_timestamp_seconds"


def finding(check: str, subject: str, severity: Severity) -> Finding:
    return Finding(check, subject, severity, f"{check} on {subject}")


async def test_recorded_alerts_show_and_follow_ack_mute_and_clear(db: DB) -> None:
    await record(
        db,
        [
            finding(CHECK, "p1 on host-a", Severity.WARNING),
            finding(CHECK, "p2 on host-a", Severity.WARNING),
            finding(OTHER, "t01000 dl3 p0", Severity.CRITICAL),
        ],
        [CHECK, OTHER],
    )
    stored = {a.subject: a for a in await list_alerts(db)}
    server = await start_metrics("127.0.0.1:0", db, interval=0.0)
    try:
        got = await scrape(server.url)
        assert got.value("harmony_alerts", check=CHECK, severity="warning", state="new") == 2
        assert got.value("harmony_alerts", check=OTHER, severity="critical", state="new") == 1
        for subject, alert in stored.items():
            seen = got.value(FIRST_SEEN, check=alert.check, subject=subject)
            assert seen == pytest.approx(alert.first_seen.timestamp(), abs=1e-3)

        await ack(db, str(stored["p1 on host-a"].id), by="alice@host")
        await mute(db, OTHER, 3600, by="alice@host")
        got = await scrape(server.url)
        assert got.value("harmony_alerts", check=CHECK, severity="warning", state="new") == 1
        assert got.value("harmony_alerts", check=CHECK, severity="warning", state="acked") == 1
        assert got.value("harmony_alerts", check=OTHER, severity="critical", state="muted") == 1
        assert not [
            s
            for s in got.samples
            if s.name == "harmony_alerts"
            and s.labels["check"] == OTHER
            and s.labels["state"] != "muted"
        ]
        # acknowledging keeps an alert's series (the same labels, the same first-seen time)
        assert got.value(FIRST_SEEN, subject="p1 on host-a") == pytest.approx(
            stored["p1 on host-a"].first_seen.timestamp(), abs=1e-3
        )

        await record(db, [], [CHECK, OTHER])  # both checks ran and found nothing: cleared
        got = await scrape(server.url)
        assert not [s for s in got.samples if s.name in ("harmony_alerts", FIRST_SEEN)]
        assert f"# TYPE {FIRST_SEEN} gauge" in got.text  # the family stays, empty
    finally:
        await server.close()


async def test_the_listed_alerts_are_capped_most_severe_and_oldest_first(db: DB) -> None:
    await record(db, [finding(CHECK, f"p{i}", Severity.INFO) for i in range(3)], [CHECK])
    await record(db, [finding(OTHER, "t01000 dl0 p0", Severity.CRITICAL)], [OTHER])

    figures = await db.transaction(lambda tx: read_alerts(tx, limit=2))

    assert figures.total == 4  # counted whole
    assert [(a.check, a.severity) for a in figures.listed] == [
        (OTHER, "critical"),
        (CHECK, "info"),
    ]
    oldest_info = min(
        (a for a in await list_alerts(db) if a.check == CHECK), key=lambda a: (a.first_seen, a.id)
    )
    assert figures.listed[1].subject == oldest_info.subject
