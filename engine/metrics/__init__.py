"""Prometheus metrics of a harmony machine (``--metrics-listen HOST:PORT``).

* :mod:`.tasks`: the engine's per-type counters and histograms, updated where the events
  happen (cheap: no prometheus_client on the engine's hot path);
* :mod:`.cluster`: cluster-wide figures, read once per interval with the console's queries;
* :mod:`.collector`: the catalogue of every metric and the collector building them at scrape
  time;
* :mod:`.server`: the HTTP endpoint on the machine's event loop;
* :mod:`.dashboard`: the Grafana dashboard shipped with the package.

A library: no UI imports. Names resolve lazily, so the engine importing :mod:`.tasks` does not
load prometheus_client or aiohttp.
"""

from engine.lazy import lazy_exports

__all__ = lazy_exports(
    __name__,
    {
        "cluster": ["ClusterFigures", "ClusterGauges"],
        "collector": ["CATALOGUE", "HarmonyCollector", "MetricSpec", "metric_names"],
        "dashboard": ["dashboard_json", "dashboard_queries", "load_dashboard"],
        "listen": ["ListenAddress", "parse_listen"],
        "server": ["MetricsListenError", "MetricsServer", "start_metrics"],
        "tasks": ["TaskMetrics"],
    },
)
