"""Machine resources: declared task costs, this machine's capacity and live use."""

from .probe import GpuInfo, Usage, capacity, gpu_info, prime_cpu_percent, ram_available, usage
from .resources import GiB, MiB, Resources

__all__ = [
    "GiB",
    "GpuInfo",
    "MiB",
    "Resources",
    "Usage",
    "capacity",
    "gpu_info",
    "prime_cpu_percent",
    "ram_available",
    "usage",
]
