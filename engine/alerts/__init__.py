"""Alerts: checks over the cluster's database that find what could cost a storage provider
power or rewards, evaluated by the ``AlertEval`` singleton task, kept with their first-seen
time, acknowledgement and mute, and sent to an optional webhook.

Public API::

    result = await evaluate(db, AlertSettings())      # one evaluation, recorded
    alerts = await list_alerts(db)                    # open alerts, most severe first
    await ack(db, "12", by="alice@host"); await mute(db, "12", 7200, by="alice@host")
    alerts = await evaluate_live(curio_db)            # a Curio cluster: read-only, not stored
    await deliver(db, WebhookTarget(url))             # what the webhook should hear now

No UI imports: the CLI (``harmony alerts``) and the console render :class:`Alert`.
"""

from .checks import CHECKS, Check
from .curio_checks import CURIO_CHECKS
from .evaluate import Evaluation, evaluate, evaluate_live
from .model import Alert, AlertSettings, Finding, Severity
from .store import NoSuchAlert, ack, list_alerts, mute, prune, record
from .task import ALERT_EVAL, AlertConfig, AlertEvalTask, alert_tasks, configure_alert_tasks
from .webhook import WebhookError, WebhookTarget, deliver, redact

__all__ = [
    "ALERT_EVAL",
    "CHECKS",
    "CURIO_CHECKS",
    "Alert",
    "AlertConfig",
    "AlertEvalTask",
    "AlertSettings",
    "Check",
    "Evaluation",
    "Finding",
    "NoSuchAlert",
    "Severity",
    "WebhookError",
    "WebhookTarget",
    "ack",
    "alert_tasks",
    "configure_alert_tasks",
    "deliver",
    "evaluate",
    "evaluate_live",
    "list_alerts",
    "mute",
    "prune",
    "record",
    "redact",
]
