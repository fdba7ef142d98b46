"""What this machine has, and how much of it is in use: psutil for CPU and RAM, NVML for GPUs.

No GPU, no driver, or no NVML library means 0 GPUs, silently: that is the normal case for most
workers, not an error (``nvmlInit`` then fails fast with an ``NVMLError``). ``nvmlInit`` is
attempted once per process. Everything here is blocking C calls; async code calls it through
``asyncio.to_thread``.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

import psutil

from .resources import Resources

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GpuInfo:
    count: int
    names: tuple[str, ...]
    utilization: float  # mean busy fraction 0..1 over all devices, 0 when none
    error: str | None  # why NVML is unavailable (for diagnostics), None when it loaded


@dataclass(frozen=True)
class Usage:
    """Live use, reported at each heartbeat for the console's bars."""

    cpu_load: float  # 0..1 of all cores
    ram_used: int
    gpu_used: float  # 0..1 mean utilisation


class _Nvml:
    """NVML, initialised once; ``available`` is False (with ``error`` saying why) when absent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._module: Any = None
        self._tried = False
        self.error: str | None = None

    def module(self) -> Any:
        with self._lock:
            if not self._tried:
                self._tried = True
                try:
                    import pynvml

                    pynvml.nvmlInit()
                    self._module = pynvml
                except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
                    self.error = f"{type(exc).__name__}: {exc}"
                    log.debug("no GPUs: %s", self.error)
            return self._module


_nvml = _Nvml()


def gpu_info() -> GpuInfo:
    nvml = _nvml.module()
    if nvml is None:
        return GpuInfo(0, (), 0.0, _nvml.error)
    try:
        count = nvml.nvmlDeviceGetCount()
        names, busy = [], []
        for i in range(count):
            handle = nvml.nvmlDeviceGetHandleByIndex(i)
            name = nvml.nvmlDeviceGetName(handle)
            names.append(name.decode() if isinstance(name, bytes) else str(name))
            busy.append(nvml.nvmlDeviceGetUtilizationRates(handle).gpu / 100.0)
        return GpuInfo(count, tuple(names), sum(busy) / count if count else 0.0, None)
    except Exception as exc:  # a device vanished, the driver was unloaded...
        return GpuInfo(0, (), 0.0, f"{type(exc).__name__}: {exc}")


def _override(name: str) -> float | None:
    value = os.environ.get(name)
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        log.warning("ignoring %s=%r: not a number", name, value)
        return None


def capacity() -> Resources:
    """Cores, total RAM and GPUs of this machine, re-read at every call.

    ``HARMONY_OVERRIDE_CPU``, ``HARMONY_OVERRIDE_RAM`` (bytes) and ``HARMONY_OVERRIDE_GPUS``
    override the probe, e.g. to keep a worker off half the cores of a shared box.
    """
    cpu = _override("HARMONY_OVERRIDE_CPU")
    ram = _override("HARMONY_OVERRIDE_RAM")
    gpu = _override("HARMONY_OVERRIDE_GPUS")
    return Resources(
        cpu=cpu if cpu is not None else float(psutil.cpu_count(logical=True) or 1),
        ram=int(ram) if ram is not None else psutil.virtual_memory().total,
        gpu=gpu if gpu is not None else float(gpu_info().count),
    )


def prime_cpu_percent() -> None:
    """The first ``cpu_percent(interval=None)`` is a meaningless 0.0; call this once early."""
    psutil.cpu_percent(interval=None)


def usage() -> Usage:
    memory = psutil.virtual_memory()
    return Usage(
        cpu_load=psutil.cpu_percent(interval=None) / 100.0,
        ram_used=memory.total - memory.available,
        gpu_used=gpu_info().utilization,
    )


def ram_available() -> int:
    """RAM the kernel could hand out now (the admission check never assumes more)."""
    return psutil.virtual_memory().available
