"""Engine timings and limits, with the reasoning behind each default."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .limits import ResourceOffer


class ClusterDefault(float):
    """A machine timeout nobody chose here: the machine uses the cluster's value.

    It is a float (the seeded default, 12 s) so code that only reads a number keeps working; what
    sets it apart from an explicit ``12.0`` is its type. Explicit values set the cluster's value
    when the engine starts (see :mod:`.settings`).
    """

    def __repr__(self) -> str:
        return f"ClusterDefault({float(self)!r})"


#: The default of :attr:`EngineConfig.machine_timeout`: use the value stored for the cluster.
CLUSTER_MACHINE_TIMEOUT = ClusterDefault(12.0)


@dataclass(frozen=True)
class EngineConfig:
    #: How often the machine reports in (and reads cordon/drain/restart flags back).
    heartbeat_interval: float = 2.0
    #: Silence after which peers declare a machine dead and take its tasks. Seconds, not
    #: Curio's 10 minutes; six missed heartbeats tolerate a GC pause or a slow DB. One value for
    #: the whole cluster (``harmony_settings``): the default uses it; an explicit number sets
    #: it for every machine when this engine starts.
    machine_timeout: float = CLUSTER_MACHINE_TIMEOUT
    #: Safety poll while LISTEN/NOTIFY works: a lost notification costs at most this much.
    poll_interval: float = 10.0
    #: Adaptive poll where NOTIFY is unavailable: fast after finding work, backing off to max.
    poll_min: float = 0.05
    poll_max: float = 2.0
    #: None = use LISTEN/NOTIFY when the server supports it; False forces polling.
    use_notify: bool | None = None
    #: Most tasks claimed per type per statement, and most running tasks on this machine for
    #: types that declare no resource cost (which would otherwise be unbounded).
    claim_batch: int = 100
    max_running: int = 1000
    #: A pending task that cannot fit anywhere for this long makes machines hold back smaller
    #: work until it fits (so large tasks are not starved by a stream of small ones).
    starvation_after: float = 60.0
    #: After a storage claim fails, the task is left alone this long (only that task).
    storage_back_off: float = 30.0
    #: Minimum spacing of IAmBored calls per task type.
    idle_try_interval: float = 1.0
    #: History rows older than this are deleted (None keeps history forever).
    history_retention: float | None = 7 * 24 * 3600.0
    #: Rows of machines that left or died longer ago than this are removed.
    forget_machines_after: float = 24 * 3600.0
    #: How often one engine runs the retention and machine clean-up.
    housekeeping_interval: float = 300.0
    #: Per-type caps on this machine (``--max-tasks``, Curio's ``*MaxTasks``): at most N tasks
    #: of that type at once, on top of the type's own ``max`` (the lower applies). Caps naming
    #: types this machine does not run are ignored: one layer may hold the caps of every role.
    max_tasks: Mapping[str, int] = field(default_factory=dict)
    #: What this machine offers its tasks (``--cpus/--ram/--gpus``): the probed capacity,
    #: lowered to these, at every probe.
    offer: ResourceOffer = field(default_factory=ResourceOffer)
