"""Limits an operator puts on one machine: how many tasks of a type it runs at once
(``--max-tasks``, Curio's ``[Subsystems] *MaxTasks``) and how much CPU, RAM and GPU it offers
(``--cpus``, ``--ram``, ``--gpus``: to keep cores or memory for other services on the box).

Both only ever lower what the machine would do on its own. A cap is an extra per-machine
limiter beside the one the task type declares (the lower of the two applies), so a cap cannot
lift a limit a type needs for its own sake; an offer is the lower of itself and what the probe
finds at every heartbeat, so a machine never advertises (nor schedules into) cores it lacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from engine.resources import Resources

from .task import MAX_NAME_LENGTH

__all__ = ["MAX_TASKS_LIMIT", "ResourceOffer", "format_max_tasks", "parse_max_tasks"]

#: The largest cap accepted (beyond it a cap means nothing: ``max_running`` is 1000).
MAX_TASKS_LIMIT = 1_000_000


def parse_max_tasks(text: str) -> dict[str, int]:
    """``"SDR=2,WdPost=1"`` -> ``{"SDR": 2, "WdPost": 1}``.

    Raises ValueError with the entry at fault: no ``=``, an empty or over-long type name, a
    count that is not a whole number of at least 1, a type given twice. (Whether the type
    exists is for the caller, which knows the installation's types.)
    """
    caps: dict[str, int] = {}
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        name, sep, count = entry.partition("=")
        name, count = name.strip(), count.strip()
        if not sep or not name:
            raise ValueError(f"{entry!r} is not TYPE=N (e.g. SDR=2)")
        if len(name) > MAX_NAME_LENGTH:
            raise ValueError(f"{name!r} is not a task type (names are 1..{MAX_NAME_LENGTH} long)")
        try:
            n = int(count)
        except ValueError:
            raise ValueError(f"{entry!r}: {count!r} is not a whole number") from None
        if n < 1:
            raise ValueError(
                f"{entry!r}: the cap must be 1 or more (leave {name} out for no cap; "
                "leave it out of --tasks to run none)"
            )
        if n > MAX_TASKS_LIMIT:
            raise ValueError(f"{entry!r}: the cap must be at most {MAX_TASKS_LIMIT}")
        if name in caps:
            raise ValueError(f"task type {name} is given twice")
        caps[name] = n
    return caps


def format_max_tasks(caps: Mapping[str, int]) -> str:
    """The ``TYPE=N,...`` text of ``caps`` (inverse of :func:`parse_max_tasks`)."""
    return ",".join(f"{name}={n}" for name, n in caps.items())


@dataclass(frozen=True)
class ResourceOffer:
    """The most of each resource this machine offers its tasks; None: all the probe finds."""

    cpu: float | None = None
    ram: int | None = None
    gpu: float | None = None

    def __post_init__(self) -> None:
        if self.cpu is not None and not self.cpu > 0:
            raise ValueError(f"the CPUs offered must be more than 0, not {self.cpu!r}")
        if self.ram is not None and not self.ram > 0:
            raise ValueError(f"the RAM offered must be more than 0 bytes, not {self.ram!r}")
        if self.gpu is not None and not self.gpu >= 0:
            raise ValueError(f"the GPUs offered must be 0 or more, not {self.gpu!r}")

    @property
    def limits_anything(self) -> bool:
        return (self.cpu, self.ram, self.gpu) != (None, None, None)

    def apply(self, probed: Resources) -> Resources:
        """``probed``, each dimension lowered to what is offered."""
        return Resources(
            cpu=probed.cpu if self.cpu is None else min(probed.cpu, self.cpu),
            ram=probed.ram if self.ram is None else min(probed.ram, self.ram),
            gpu=probed.gpu if self.gpu is None else min(probed.gpu, self.gpu),
        )
