"""``harmony metrics list|dashboard``: what ``--metrics-listen`` serves, and the Grafana
dashboard that reads it. Neither needs the database."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import asdict
from pathlib import Path

from .common import CommandError, print_json, print_table


def register(sub: argparse._SubParsersAction) -> None:
    metrics = sub.add_parser(
        "metrics",
        help="Prometheus metrics: list them, print the Grafana dashboard",
        description="A machine started with `harmony run --metrics-listen HOST:PORT` serves "
        "Prometheus metrics at http://HOST:PORT/metrics: its own tasks, resources and "
        "heartbeat, and the cluster's queue, machines, storage paths, miners and sealing "
        "pipeline (read once per 15 s, the same on every machine).",
    )
    actions = metrics.add_subparsers(dest="metrics_command", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list", help="every metric: name, type, labels, whose (this machine or the cluster)"
    )
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(run=run_list)
    dashboard = actions.add_parser(
        "dashboard",
        help="print the Grafana dashboard (JSON, for Grafana's Import)",
        description="Print the Grafana dashboard shipped with harmony: import it in Grafana "
        "(Dashboards > New > Import) and pick the Prometheus data source that scrapes the "
        "machines.",
    )
    dashboard.add_argument(
        "-o", "--output", metavar="FILE", help="write it to FILE instead of standard output"
    )
    dashboard.set_defaults(run=run_dashboard)


async def run_list(args: argparse.Namespace) -> int:
    from engine.metrics import CATALOGUE

    if args.json:
        print_json([{**asdict(spec), "labels": list(spec.labels)} for spec in CATALOGUE])
        return 0
    print_table(
        ["METRIC", "TYPE", "LABELS", "SCOPE"],
        [[spec.name, spec.kind, ",".join(spec.labels) or "-", spec.scope] for spec in CATALOGUE],
    )
    return 0


async def run_dashboard(args: argparse.Namespace) -> int:
    from engine.metrics import dashboard_json

    text = dashboard_json()
    if args.output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return 0
    try:
        await asyncio.to_thread(Path(args.output).write_text, text, encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    print(f"wrote the Grafana dashboard to {args.output}")
    return 0
