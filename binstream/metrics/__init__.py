"""Prometheus metrics of a running binstream process (``--metrics HOST:PORT``).

:class:`~binstream.metrics.exporter.MetricsServer` serves ``/metrics`` with
prometheus_client (the ``[metrics]`` extra), reading the counters of sockets, the
publisher, the recorder and the local exchange when scraped: nothing is counted twice and
nothing costs anything between scrapes.
"""

from .exporter import MetricsServer, parse_address

__all__ = ["MetricsServer", "parse_address"]
