"""The machine options that limit what one machine takes on: ``--max-tasks`` (Curio's
``[Subsystems] *MaxTasks``), ``--cpus``/``--ram``/``--gpus`` (what it offers its tasks) and
``--store-groups`` (where the sectors it finishes may be stored).

Each check runs where argparse reads the option and where a config layer is checked (the layer
key's parser is the option's type), so a bad value is refused naming ``--max-tasks`` on a
command line and ``layer 'seal': key 'max-tasks'`` in a layer, before anything is stored or
started.
"""

from __future__ import annotations

import argparse
import functools

from engine.harmonytask import ResourceOffer, format_max_tasks, parse_max_tasks

from .common import CommandError

__all__ = [
    "known_task_types",
    "max_tasks_of",
    "max_tasks_option",
    "offer_of",
    "ram_size",
    "store_groups_of",
]


@functools.cache
def known_task_types() -> tuple[str, ...]:
    """Every task type this installation can run (built-in, the workload's, alerts)."""
    from engine.alerts.task import ALERT_EVAL
    from engine.harmonytask.builtin import BUILTIN_NAMES
    from engine.tasks import WORKLOAD_TASK_NAMES  # the workload only when a cap is given

    return (*BUILTIN_NAMES, *WORKLOAD_TASK_NAMES, ALERT_EVAL)


def max_tasks_option(text: str) -> str:
    """``--max-tasks``' value: ``TYPE=N,...``, every type known and every N at least 1. Kept
    as text (normalised), as a layer stores it; :func:`max_tasks_of` makes the caps."""
    try:
        caps = parse_max_tasks(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    known = known_task_types()
    unknown = [name for name in caps if name not in known]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown task type(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return format_max_tasks(caps)


def ram_size(text: str) -> str:
    """``--ram``'s value: a size (``64GiB``, ``512M``, bytes), more than 0; kept as typed."""
    from engine.storage.units import parse_size

    try:
        size = parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if size <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 bytes, got {text!r}")
    return text


def max_tasks_of(args: argparse.Namespace) -> dict[str, int]:
    """The caps ``--max-tasks`` (or a layer) gives (checked again: ``args`` may have been
    built by hand)."""
    text = getattr(args, "max_tasks", None)
    if not text:
        return {}
    try:
        return parse_max_tasks(max_tasks_option(text))
    except argparse.ArgumentTypeError as exc:
        raise CommandError(f"--max-tasks: {exc}") from None


def offer_of(args: argparse.Namespace) -> ResourceOffer:
    """What ``--cpus``, ``--ram`` and ``--gpus`` (or a layer) let this machine's tasks use."""
    from engine.storage.units import parse_size

    ram = getattr(args, "ram", None)
    try:
        ram_bytes = parse_size(ram_size(ram)) if ram else None
    except argparse.ArgumentTypeError as exc:
        raise CommandError(f"--ram: {exc}") from None
    try:
        return ResourceOffer(
            cpu=getattr(args, "cpus", None), ram=ram_bytes, gpu=getattr(args, "gpus", None)
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def store_groups_of(args: argparse.Namespace) -> tuple[str, ...]:
    """The groups ``--store-groups`` (or a layer) names, in order, without repeats."""
    text = getattr(args, "store_groups", None) or ""
    return tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
