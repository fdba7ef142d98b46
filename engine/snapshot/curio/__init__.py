"""The console's read model on a Curio cluster: the same :class:`~engine.snapshot.ClusterSnapshot`
as ours, read from the tables Curio's migrations create, with Curio's semantics (read from its Go
code: ``harmony/harmonytask``, ``tasks/seal``, ``lib/paths``, ``web/api/webrpc``), and chain state
from a Lotus node.

Public API::

    reader = CurioSnapshotReader(db, chain=ChainWatch(endpoint))   # db: a read-only session
    snap = await reader.snapshot(now)       # each section read on its own; one that fails is
                                            # empty, with its error in snap.errors

Only SELECTs: it works under a role that may do nothing else, and never changes the cluster.
"""

from engine.lazy import lazy_exports

# Lazy: the CLI's Curio commands import one section module, not the reader and the Lotus client
# (aiohttp) behind its chain watch, a third of a second per command.
__all__ = lazy_exports(__name__, {"reader": ["CurioSnapshotReader"]})
