"""Remote sector reads: every machine serves its storage paths over HTTP (Lotus's and Curio's
``/remote``) and reads the files it lacks from the hosts that hold them.

Public API::

    server = StorageServer(db, listen="127.0.0.1:0")   # this host's paths
    url = await server.start()                          # http://127.0.0.1:PORT/remote
    reader = RemoteReader(db)
    await reader.read_range(loc.urls, SEALED, miner, sector, offset, length)
    await reader.vanilla_single(loc.urls, miner, sector, comm_r, randomness, 10)
    await reader.vanilla_porep(await serving_all(db, host, miner, sector, U | S | C), ...)
    await reader.fetch_into(loc.urls, SEALED, miner, sector, temp, fd=fd)   # a whole file
"""

from engine.lazy import lazy_exports

__all__ = lazy_exports(
    __name__,
    {
        "client": ["RemoteFault", "RemoteReadError", "RemoteReader", "sector_url", "serving_all"],
        "secret": ["ClusterSecret", "cluster_secret"],
        "server": ["DEFAULT_LISTEN", "ListenAddress", "StorageServer", "parse_listen"],
    },
)
