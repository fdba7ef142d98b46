"""The alerts webhook: a JSON POST to an Alertmanager- or Slack-style receiver, retried with
exponential backoff, never holding up an evaluation.

What was delivered is kept in the database (``harmony_alerts.notified``), so a machine that
dies between the evaluation and the POST loses nothing: the next evaluation (on any machine
with the webhook configured) sends what was not confirmed. Formats:

* ``alertmanager`` (default): Prometheus Alertmanager's API v2 ``POST /api/v2/alerts`` body,
  an array of ``{labels, annotations, startsAt[, endsAt]}``; every open alert that needs
  attention is sent at every evaluation (Alertmanager resolves alerts that stop being sent,
  after its ``resolve_timeout``), a cleared one once with ``endsAt``. Curio's
  PrometheusAlertManager plugin sends the same shape.
* ``slack``: a Slack incoming-webhook ``{"text": ...}``, only for changes (raised, cleared).

Acknowledged and muted alerts are not sent as firing. The URL often holds a secret (a Slack
hook's path, a token in the query, user:password): only :func:`redact` of it is ever logged
or put in an error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .store import COLUMNS, row_to_alert

if TYPE_CHECKING:
    from engine.harmonydb import DB, Tx

    from .model import Alert

__all__ = [
    "FORMATS",
    "Delivery",
    "WebhookError",
    "WebhookTarget",
    "alertmanager_body",
    "deliver",
    "post_json",
    "redact",
    "slack_body",
]

log = logging.getLogger(__name__)

FORMATS = ("alertmanager", "slack")

#: open alerts that need attention, and cleared ones the receiver last heard as firing
TO_SEND = f"""
SELECT {COLUMNS}, notified FROM harmony_alerts
 WHERE (cleared_at IS NULL AND acked_at IS NULL
        AND (muted_until IS NULL OR muted_until <= now()))
    OR notified = 'firing'
 ORDER BY id
 LIMIT 1000
"""

MARK = """
UPDATE harmony_alerts a SET notified = f.state
  FROM unnest($1::bigint[], $2::text[]) AS f (id, state)
 WHERE a.id = f.id
"""


class WebhookError(Exception):
    """The receiver did not take the alerts (after the retries); names the redacted URL."""


def redact(url: str) -> str:
    """``scheme://host[:port]/…``: what may be logged of a webhook URL."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(an unparsable URL)"
    rest = "/…" if (parts.path not in ("", "/") or parts.query) else ""
    return f"{parts.scheme}://{host}{port}{rest}"


@dataclass(frozen=True)
class WebhookTarget:
    """Where the alerts go. ``attempts`` POSTs at most, waiting ``backoff`` × 2^n seconds
    (at most ``max_wait``) between them, each bounded by ``timeout``."""

    url: str
    format: str = "alertmanager"
    attempts: int = 5
    backoff: float = 1.0
    max_wait: float = 30.0
    timeout: float = 15.0
    #: the ``cluster`` label (e.g. the schema)
    cluster: str = "harmony"

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the alerts webhook must be an http(s) URL, not {redact(self.url)}")
        if self.format not in FORMATS:
            raise ValueError(f"unknown webhook format {self.format!r} (one of {FORMATS})")

    def __repr__(self) -> str:  # never the URL itself
        return f"WebhookTarget({redact(self.url)}, {self.format})"


def alertmanager_body(
    firing: Sequence[Alert], resolved: Sequence[Alert], cluster: str
) -> list[dict[str, Any]]:
    def one(a: Alert, ends: datetime | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "labels": {
                "alertname": a.check,
                "severity": str(a.severity),
                "subject": a.subject,
                "cluster": cluster,
            },
            "annotations": {"summary": f"{a.check}: {a.subject}", "description": a.message},
            "startsAt": a.first_seen.isoformat(),
        }
        if ends is not None:
            body["endsAt"] = ends.isoformat()
        return body

    return [one(a, None) for a in firing] + [one(a, a.cleared_at) for a in resolved]


def slack_body(firing: Sequence[Alert], resolved: Sequence[Alert], cluster: str) -> dict[str, Any]:
    lines = [f":rotating_light: [{a.severity}] {a.check} {a.subject}: {a.message}" for a in firing]
    lines += [f":white_check_mark: cleared: {a.check} {a.subject}" for a in resolved]
    return {"text": f"harmony alerts ({cluster}):\n" + "\n".join(lines)}


Poster = Callable[[WebhookTarget, Any], Any]


async def post_json(target: WebhookTarget, body: Any) -> None:
    """POST ``body`` as JSON; retried on connection errors, timeouts, 429 and 5xx with
    exponential backoff, ``target.attempts`` times at most. Any 2xx is success; another 4xx
    is not retried (the receiver refuses the body: retrying would not change that)."""
    import aiohttp

    last = "no attempt"
    timeout = aiohttp.ClientTimeout(total=target.timeout)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for attempt in range(target.attempts):
            if attempt:
                await asyncio.sleep(min(target.max_wait, target.backoff * 2 ** (attempt - 1)))
            try:
                async with session.post(target.url, json=body) as reply:
                    if 200 <= reply.status < 300:
                        return
                    text = (await reply.text())[:200]
                    last = f"HTTP {reply.status}: {text}"
                    if reply.status < 500 and reply.status != 429:
                        break
            except (aiohttp.ClientError, TimeoutError) as exc:
                # the exception's text may repeat the URL: name only its kind
                last = type(exc).__name__
            log.info(
                "alerts webhook %s: attempt %d failed (%s)", redact(target.url), attempt + 1, last
            )
    raise WebhookError(f"alerts webhook {redact(target.url)} did not take the alerts: {last}")


@dataclass(frozen=True)
class Delivery:
    firing: int
    resolved: int


async def deliver(db: DB, target: WebhookTarget, *, poster: Poster | None = None) -> Delivery:
    """Send what the receiver should hear now (see the module's doc), then record it as
    delivered. Raises :class:`WebhookError` when the receiver did not take it; nothing is
    marked then, so the next evaluation sends it again."""
    rows = await db.select(TO_SEND)
    now = await db.query_value("SELECT now()")
    firing, resolved, quiet = [], [], []
    for r in rows:
        a = row_to_alert(r)
        if a.needs_attention(now):
            if target.format == "alertmanager" or r["notified"] != "firing":
                firing.append(a)
        elif a.cleared_at is not None:
            resolved.append(a)
        else:
            quiet.append(a)  # acknowledged or muted since it was sent: just stop sending
    if firing or resolved:
        body = (
            alertmanager_body(firing, resolved, target.cluster)
            if target.format == "alertmanager"
            else slack_body(firing, resolved, target.cluster)
        )
        await (poster or post_json)(target, body)
    marks = [(a.id, "firing") for a in firing] + [(a.id, "resolved") for a in resolved]
    marks += [(a.id, None) for a in quiet]
    if marks:

        async def work(tx: Tx) -> None:
            await tx.exec(MARK, [m[0] for m in marks], [m[1] for m in marks])
            await tx.commit()

        await db.transaction(work)
    return Delivery(len(firing), len(resolved))
