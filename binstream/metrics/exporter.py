"""The ``/metrics`` endpoint: what each part of a process has counted, in Prometheus'
text format, read at scrape time.

Sources are registered as callables, so the exporter never holds a part alive nor reads
one that is gone: sockets (a manager's ``sockets``), a JetStream publisher, a recording's
gap count, a local exchange. Every name starts with ``binstream_``; counters end in
``_total``. docs/metrics.md lists them all with example queries.

Example::

    >>> parse_address("127.0.0.1:9100"), parse_address(":9100"), parse_address("[::1]:0")
    (('127.0.0.1', 9100), ('127.0.0.1', 9100), ('::1', 0))
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..asyncio.pacing import CONNECTION_BUDGET
from ..traffic import LAG_BUCKETS

if TYPE_CHECKING:
    from prometheus_client.core import Metric

#: The longest ``socket`` label: a combined socket's path names all its streams.
SOCKET_LABEL_LENGTH = 80


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``:PORT`` and ``PORT`` mean 127.0.0.1; ``[::1]:PORT`` for IPv6);
    ``ValueError`` saying what is wrong."""
    host, sep, port = text.strip().rpartition(":")
    if not sep:
        host, port = "", text.strip()
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"invalid --metrics address {text!r}: use HOST:PORT, e.g. 127.0.0.1:9100")
    return host, int(port)


def socket_label(path: str) -> str:
    """A socket's path, shortened for a label."""
    if len(path) <= SOCKET_LABEL_LENGTH:
        return path
    return path[: SOCKET_LABEL_LENGTH - 1] + "…"


class MetricsServer:
    """Serves ``/metrics`` on ``address`` from the sources added to it.

    Example::

        metrics = MetricsServer("127.0.0.1:9100")
        metrics.add_sockets(lambda: manager.sockets.values())
        metrics.start()   # binstream_messages_total{stream="bnbbtc@trade"} ...
    """

    def __init__(self, address: str) -> None:
        try:
            from prometheus_client import CollectorRegistry
        except ImportError:
            raise ImportError(
                "--metrics needs prometheus_client: pip install 'binstream[metrics]'"
            ) from None
        self.host, self.port = parse_address(address)
        self.registry = CollectorRegistry(auto_describe=False)
        self._sockets: list[Callable[[], Iterable[Any]]] = []
        self._publishers: list[Callable[[], Any]] = []
        self._gaps: list[Callable[[], int]] = []
        self._exchanges: list[Callable[[], Any]] = []
        self._consumed: list[Callable[[], int]] = []
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.registry.register(self)  # type: ignore[arg-type]

    # -- sources --------------------------------------------------------------------------

    def add_sockets(self, sockets: Callable[[], Iterable[Any]]) -> None:
        """Sockets to read (``StreamSocket`` or ``BookSocket``), asked for at each scrape."""
        self._sockets.append(sockets)

    def add_publisher(self, sink: Callable[[], Any]) -> None:
        """A JetStream publisher (its ``stats`` and acknowledgement window)."""
        self._publishers.append(sink)

    def add_gaps(self, gaps: Callable[[], int]) -> None:
        """A count of gaps an output recorded (lost connections, skipped update ids)."""
        self._gaps.append(gaps)

    def add_exchange(self, exchange: Callable[[], Any]) -> None:
        """A local exchange (``binstream serve``)."""
        self._exchanges.append(exchange)

    def add_consumed(self, count: Callable[[], int]) -> None:
        """Messages read from a JetStream log (``binstream consume``)."""
        self._consumed.append(count)

    # -- serving --------------------------------------------------------------------------

    def start(self) -> str:
        """Serve on a thread of its own; returns the URL of ``/metrics`` (port 0: a free
        port, which :attr:`port` then holds). ``OSError`` if the address is taken."""
        from prometheus_client import start_http_server

        self._server, self._thread = start_http_server(self.port, self.host, self.registry)
        self.port = self._server.server_port
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None

    # -- the collector --------------------------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        """Every metric, read from the sources now (prometheus_client's collector API)."""
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> CounterMetricFamily:
            return CounterMetricFamily(f"binstream_{name}", doc, labels=list(labels))

        def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"binstream_{name}", doc, labels=list(labels))

        messages = counter("messages", "Messages received per stream.", ("stream",))
        received_bytes = counter("received_bytes", "Bytes received per stream.", ("stream",))
        lag = HistogramMetricFamily("binstream_receive_lag_seconds",
                                    "Local receive time minus the event time (E), sampled "
                                    "once per stream and batch.", labels=["stream"])  # fmt: skip
        received = counter("socket_messages", "Messages a socket delivered.", ("socket",))
        reconnects = counter("reconnects", "Reconnect attempts.", ("socket",))
        drops = counter("drops", "Connections lost, by reason.", ("socket", "reason"))
        invalid = counter("invalid_messages", "Frames skipped as invalid.", ("socket",))
        silent = gauge("silent_streams", "Streams silent now.", ("socket",))
        queue = gauge("queue_depth", "Messages waiting for the reader.", ("socket",))
        capacity = gauge("queue_capacity", "The reader's queue bound.", ("socket",))
        dropped = counter("dropped_messages", "Messages dropped by --overflow drop.", ("socket",))
        connected = gauge("connected", "1 while the socket has a connection open.", ("socket",))
        for provider in self._sockets:
            for socket in list(provider()):
                socket = getattr(socket, "socket", socket)  # a book socket's depth stream
                label = socket_label(socket.path)
                stats = socket.stats
                received.add_metric([label], stats.received)
                reconnects.add_metric([label], stats.reconnects)
                invalid.add_metric([label], stats.invalid)
                for reason, count in list(stats.drops.items()):
                    drops.add_metric([label, reason], count)
                silent.add_metric([label], len(socket.silent_streams))
                queue.add_metric([label], len(socket.buffer))
                capacity.add_metric([label], socket.buffer.maxsize)
                dropped.add_metric([label], socket.dropped)
                connected.add_metric([label], 1 if socket.state.value == "open" else 0)
                if stats.traffic is None:
                    continue
                for stream, traffic in list(stats.traffic.streams.items()):
                    messages.add_metric([stream], traffic.messages)
                    received_bytes.add_metric([stream], traffic.bytes)
                    cumulative, buckets = 0, []
                    for bound, count in zip(
                        (*LAG_BUCKETS, float("inf")), traffic.lag_counts, strict=True
                    ):
                        cumulative += count
                        buckets.append((_bound(bound), cumulative))
                    lag.add_metric([stream], buckets, traffic.lag_sum)
        yield from (messages, received_bytes, lag, received, reconnects, drops, invalid,
                    silent, queue, capacity, dropped, connected)  # fmt: skip
        budget = gauge("connection_budget_in_use",
                       "Connection attempts booked within the budget's window.")  # fmt: skip
        budget.add_metric([], CONNECTION_BUDGET.in_use())
        limit = gauge("connection_budget_limit", "Connection attempts allowed per window.")
        limit.add_metric([], CONNECTION_BUDGET.limit)
        yield from (budget, limit)
        if self._gaps:
            gaps = counter("gaps", "Gaps recorded: lost connections and skipped update ids.")
            gaps.add_metric([], sum(count() for count in self._gaps))
            yield gaps
        for sink in (provider() for provider in self._publishers):
            if sink is None:
                continue
            stats = sink.stats
            acked = counter("publish_acknowledged", "Publications JetStream acknowledged.",
                            ("outcome",))  # fmt: skip
            acked.add_metric(["stored"], stats.stored)
            acked.add_metric(["duplicate"], stats.duplicates)
            yield acked
            for name, doc, value in (
                ("publish_resent", "Publications sent again.", stats.resent),
                ("publish_dropped", "Messages not published (buffer full).", stats.dropped),
                ("publish_refused", "Publications JetStream refused.", stats.refused),
                ("publish_gap_markers", "Gap markers published.", stats.gaps),
            ):
                family = counter(name, doc)
                family.add_metric([], value)
                yield family
            pending = gauge("publish_pending", "Messages held awaiting acknowledgement.")
            pending.add_metric([], sink.window.pending)
            yield pending
        if self._consumed:
            consumed = counter("consumed_messages", "Messages read from the JetStream log.")
            consumed.add_metric([], sum(count() for count in self._consumed))
            yield consumed
        for exchange in (provider() for provider in self._exchanges):
            clients = gauge("exchange_connections", "Market-stream connections open.")
            clients.add_metric([], len(exchange.clients))
            attempts = counter("exchange_connection_attempts", "Connection attempts received.")
            attempts.add_metric([], exchange.connections_total)
            steps = counter("exchange_steps", "Steps the simulated market has taken.")
            steps.add_metric([], exchange.step_number)
            yield from (clients, attempts, steps)


def _bound(value: float) -> str:
    return "+Inf" if value == float("inf") else repr(value)
