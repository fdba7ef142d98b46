"""The options of a machine (``harmony run`` and the console with its engine) and the engine
settings they make.

Their own module because both ``harmony run`` (which opens the console unless
``--engine-only``) and the console's command (which starts an engine) need them.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from engine.harmonytask import EngineConfig

from .arguments import non_negative_number, positive_number
from .common import CommandError
from .given import given_action
from .machine_limits import max_tasks_of, max_tasks_option, offer_of, ram_size

if TYPE_CHECKING:
    from engine.alerts import AlertConfig

__all__ = ["add_machine_options", "alert_config", "engine_config", "storage_server_options"]


def add_machine_options(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """The machine's flags; ``suppress`` for a subcommand's copy (``harmony run``), whose
    defaults must not override the same flags given before the command."""
    add = _adder(parser, suppress)
    add("--engine-only", action="store_true", help="headless worker: no console")
    add(
        "--layers",
        metavar="LAYER,...",
        help="config layers from the database, merged in order over the defaults (`base` "
        "first whenever it exists; see `harmony config`); flags given here still win",
    )
    add("--tasks", metavar="TYPE,...", help="only run these task types (default: every type)")
    add(
        "--name",
        metavar="NAME",
        help="machine identity; a restart with the same name re-adopts its "
        "tasks (default: <hostname>:worker, or <hostname>:console)",
    )
    add(
        "--heartbeat",
        type=positive_number,
        metavar="SECONDS",
        default=None,
        help="how often this machine reports in (default 2)",
    )
    add(
        "--machine-timeout",
        type=positive_number,
        metavar="SECONDS",
        default=None,
        help="the cluster's machine timeout: silence after which peers declare a machine "
        "dead and take its tasks. One value for the whole cluster, stored in the database "
        "(12 until set): giving it sets it for every machine",
    )
    add(
        "--max-tasks",
        type=max_tasks_option,
        metavar="TYPE=N,...",
        default=None,
        help="run at most N tasks of TYPE at once on this machine (Curio's *MaxTasks, e.g. "
        "SDR=2,WdPost=1), on top of the type's own limit; types not listed: as many as "
        "the resources allow. Caps for types this machine does not run are ignored",
    )
    add(
        "--cpus",
        type=positive_number,
        metavar="N",
        default=None,
        help="offer tasks at most N cores (default: every core found; e.g. to keep cores "
        "for other services on the box)",
    )
    add(
        "--ram",
        type=ram_size,
        metavar="SIZE",
        default=None,
        help="offer tasks at most SIZE of memory, e.g. 64GiB (default: all the RAM found)",
    )
    add(
        "--gpus",
        type=non_negative_number,
        metavar="N",
        default=None,
        help="offer tasks at most N GPUs; 0 keeps them off the GPUs (default: every GPU found)",
    )
    add(
        "--history-days",
        type=non_negative_number,
        metavar="DAYS",
        default=None,
        help="delete task history older than this (default 7; 0 keeps it forever)",
    )
    add(
        "--alerts-interval",
        type=positive_number,
        metavar="SECONDS",
        default=None,
        help="how often the cluster's alert checks run (default 300, as Curio's); one "
        "machine evaluates each time (see `harmony alerts`)",
    )
    add(
        "--alerts-webhook",
        metavar="URL",
        default=None,
        help="send alerts to this receiver (Prometheus Alertmanager's .../api/v2/alerts, or a "
        "Slack incoming webhook with --alerts-webhook-format slack), retried with backoff, "
        "from whichever machine evaluates. Such URLs are secrets: keep it in a config layer "
        "or HARMONY_ALERTS_WEBHOOK, not on a command line; it is never logged",
    )
    add(
        "--alerts-webhook-format",
        choices=("alertmanager", "slack"),
        default=None,
        help="the webhook's body (default alertmanager)",
    )
    add(
        "--storage-listen",
        metavar="ADDR:PORT",
        default=None,
        help="serve this host's storage paths to the other hosts there (/remote: PoSt, moves "
        "and reads of sectors kept here), once it has a path; 'off' serves none. Default "
        "127.0.0.1:0: loopback only, any free port; give e.g. 0.0.0.0:12310 for a "
        "multi-host cluster. Requests need the cluster's secret (kept in the database)",
    )
    add(
        "--storage-url",
        metavar="URL",
        default=None,
        help="the URL other hosts reach this host's storage server at (default "
        "http://ADDR:PORT/remote, with this host's name for 0.0.0.0)",
    )
    add(
        "--store-groups",
        metavar="GROUP,...",
        default=None,
        help="sectors this machine moves to long-term storage (MoveStorage) go only to "
        "store paths in one of these groups (`harmony storage attach --groups`), and only "
        "where the seal path's --allow-to lets them (default: any group)",
    )
    add(
        "--metrics-listen",
        type=metrics_address,
        metavar="HOST:PORT",
        default=None,
        help="serve Prometheus metrics at http://HOST:PORT/metrics (off by default; a bare "
        "PORT listens on loopback only; 0.0.0.0:PORT for every interface): this machine's "
        "tasks, resources and heartbeat, and the cluster's queue, storage, miners and "
        "pipeline (see `harmony metrics list`)",
    )


def storage_server_options(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """``(listen, url)`` for the storage server; listen None: serve nothing."""
    from engine.storage.remote.server import DEFAULT_LISTEN, parse_listen

    listen = getattr(args, "storage_listen", None) or DEFAULT_LISTEN
    url = getattr(args, "storage_url", None)
    if listen.strip().lower() == "off":
        return None, None
    try:
        parse_listen(listen)
    except ValueError as exc:
        raise CommandError(f"--storage-listen: {exc}") from None
    if url is not None and not url.startswith(("http://", "https://")):
        raise CommandError(f"--storage-url must be an http:// URL, not {url!r}")
    return listen, url


def alert_config(args: argparse.Namespace) -> AlertConfig:
    """The alert evaluator's options; the webhook URL from the flag or
    ``HARMONY_ALERTS_WEBHOOK``. A bad URL is an error that does not repeat it (it may hold a
    token)."""
    from engine.alerts import AlertConfig, AlertSettings, WebhookTarget

    settings = AlertSettings()
    interval = getattr(args, "alerts_interval", None)
    if interval:
        settings = replace(settings, interval=interval)
    url = getattr(args, "alerts_webhook", None) or os.environ.get("HARMONY_ALERTS_WEBHOOK")
    webhook = None
    if url:
        try:
            webhook = WebhookTarget(
                url,
                getattr(args, "alerts_webhook_format", None) or "alertmanager",
                cluster=getattr(args, "schema", None) or "harmony",
            )
        except ValueError as exc:
            raise CommandError(f"--alerts-webhook: {exc}") from None
    return AlertConfig(settings, webhook)


def metrics_address(text: str) -> str:
    """``--metrics-listen``'s value, checked at parse time (kept as typed: a config layer
    gives the same string)."""
    from engine.metrics.listen import parse_listen

    try:
        parse_listen(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _adder(parser: argparse.ArgumentParser, suppress: bool) -> Callable[..., object]:
    """``parser.add_argument``, with every default ``SUPPRESS`` when ``suppress``; every
    option records that it was typed (:mod:`.given`: a flag beats a config layer, a default
    does not)."""

    def add(*flags: str, **kwargs: Any) -> object:
        kwargs["action"] = given_action(parser, kwargs.get("action"))
        if suppress:
            kwargs["default"] = argparse.SUPPRESS
        return parser.add_argument(*flags, **kwargs)

    return add


def engine_config(args: argparse.Namespace) -> EngineConfig:
    """Engine settings from the command line (defaults where a flag is absent)."""
    defaults = EngineConfig()
    heartbeat = getattr(args, "heartbeat", None) or defaults.heartbeat_interval
    timeout = getattr(args, "machine_timeout", None) or defaults.machine_timeout
    days = getattr(args, "history_days", None)
    if timeout < 3 * heartbeat:
        raise CommandError(
            f"--machine-timeout ({timeout:g}s) must be at least 3 heartbeats ({3 * heartbeat:g}s)"
        )
    retention = defaults.history_retention if days is None else (days * 86400 or None)
    return replace(
        defaults,
        heartbeat_interval=heartbeat,
        machine_timeout=timeout,
        history_retention=retention,
        max_tasks=max_tasks_of(args),
        offer=offer_of(args),
    )
