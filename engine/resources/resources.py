"""Resources: CPU cores, RAM bytes and (fractional) GPUs, with arithmetic that cannot underflow.

Curio's RAM arithmetic divided by zero and underflowed uint64 for two and a half years
(curio #992). Here quantities are plain numbers, subtraction may go negative (a machine can be
over-committed after its capacity shrank) and the headroom helpers treat that as "no room".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

GiB = 1 << 30
MiB = 1 << 20


@dataclass(frozen=True)
class Resources:
    """An amount of machine resources: a capacity, a free amount, or a task's declared peak."""

    cpu: float = 0.0
    ram: int = 0
    gpu: float = 0.0

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.cpu + other.cpu, self.ram + other.ram, self.gpu + other.gpu)

    def __sub__(self, other: Resources) -> Resources:
        return Resources(self.cpu - other.cpu, self.ram - other.ram, self.gpu - other.gpu)

    def scaled(self, n: float) -> Resources:
        return Resources(self.cpu * n, int(self.ram * n), self.gpu * n)

    def fits_in(self, available: Resources) -> bool:
        """Whether a task costing ``self`` can start with ``available`` free.

        A tiny tolerance keeps fractional GPU sums (0.1 + 0.2) from refusing an exact fit.
        """
        eps = 1e-9
        return (
            self.cpu <= available.cpu + eps
            and self.ram <= available.ram
            and self.gpu <= available.gpu + eps
        )

    def how_many_fit(self, available: Resources, cap: int) -> int:
        """How many tasks costing ``self`` fit in ``available``, at most ``cap``.

        Dimensions the task does not use (cost 0) never limit it.
        """
        n = cap
        for need, free in (
            (self.cpu, available.cpu),
            (self.ram, available.ram),
            (self.gpu, available.gpu),
        ):
            if need > 0:
                n = min(n, max(0, math.floor(free / need + 1e-9)))
        return max(0, n)

    def describe(self) -> str:
        ram = f"{self.ram / GiB:.1f} GiB" if self.ram >= GiB else f"{self.ram / MiB:.0f} MiB"
        return f"{self.cpu:g} cpu, {ram} ram, {self.gpu:g} gpu"
