"""Alerts: checks over the cluster's database that find what could cost a storage provider
power or rewards, evaluated by the ``AlertEval`` singleton task, kept with their first-seen
time, acknowledgement and mute, and sent to an optional webhook.

Public API::

    result = await evaluate(db, AlertSettings())      # one evaluation, recorded
    alerts = await list_alerts(db)                    # open alerts, most severe first
    await ack(db, "12", by="alice@host"); await mute(db, "12", 7200, by="alice@host")
    alerts = await evaluate_live(curio_db)            # a Curio cluster: read-only, not stored
    await deliver(db, WebhookTarget(url))             # what the webhook should hear now

No UI imports: the CLI (``harmony alerts``) and the console render :class:`Alert`. The exports
load on first use (:mod:`engine.lazy`): the console's snapshot reads stored alerts before its
first frame without importing every check.
"""

from engine.lazy import lazy_exports

__all__ = lazy_exports(
    __name__,
    {
        "checks": ["CHECKS", "Check"],
        "curio_checks": ["CURIO_CHECKS"],
        "evaluate": ["Evaluation", "evaluate", "evaluate_live"],
        "model": ["Alert", "AlertSettings", "Finding", "Severity"],
        "store": ["NoSuchAlert", "ack", "list_alerts", "mute", "prune", "record"],
        "task": [
            "ALERT_EVAL",
            "AlertConfig",
            "AlertEvalTask",
            "alert_tasks",
            "configure_alert_tasks",
        ],
        "webhook": ["WebhookError", "WebhookTarget", "deliver", "redact"],
    },
)
