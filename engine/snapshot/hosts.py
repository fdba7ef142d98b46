"""The hosts under the machines: what the cluster's CPU, RAM and GPU totals count.

Every machine (a harmony process) reports its host's capacity and its host's live use
(``psutil``: all cores, all memory), so two machines on one host report the same cores twice;
adding them machine by machine said "CPU 1 of 4 cores busy" for two machines on one 2-core host.
A host is what the machine's registration recorded: the kernel's boot id (containers on one
kernel share it, and its cores), else its hostname, else the host part of ``host_and_port``
(Curio's rows hold nothing else). Only machines still in the cluster count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import MachineSnap

__all__ = ["HostSnap", "group_hosts"]


@dataclass(frozen=True, eq=False)
class HostSnap:
    """One host and the live machines on it; figures from its freshest heartbeat."""

    key: str
    machine_ids: tuple[int, ...]
    cpu: int
    ram: int
    gpu: float
    #: 0..1 of all its cores, bytes, 0..1 of its GPUs; None when not reported
    cpu_load: float | None
    ram_used: int | None
    gpu_used: float | None

    @property
    def busy_cores(self) -> float:
        return (self.cpu_load or 0.0) * self.cpu


def group_hosts(machines: Iterable[MachineSnap]) -> tuple[HostSnap, ...]:
    """The hosts of the live machines (``alive``), in order of first appearance."""
    groups: dict[str, list[MachineSnap]] = {}
    for m in machines:
        if m.alive:
            groups.setdefault(m.host_key, []).append(m)
    out = []
    for key, members in groups.items():
        fresh = min(members, key=lambda m: m.contact_age)
        out.append(
            HostSnap(
                key=key,
                machine_ids=tuple(m.id for m in members),
                cpu=fresh.cpu,
                ram=fresh.ram,
                gpu=fresh.gpu,
                cpu_load=fresh.cpu_load,
                ram_used=fresh.ram_used,
                gpu_used=fresh.gpu_used,
            )
        )
    return tuple(out)
