"""ThreadedWebsocketManager: python-binance's callback API over :class:`BinanceSocketManager`.

Threads, and who does what:

- one daemon *loop thread* runs a private asyncio event loop (the global loop and any
  loop already running in the caller's thread, e.g. Jupyter's, are never touched); it
  drives every connection through one :class:`BinanceSocketManager`;
- one daemon *callback thread per socket* calls your callback, in message order, so a
  slow callback never blocks the network: pings are answered, other sockets flow.

Memory is bounded whatever the callback's speed: each socket holds at most
``max_queue_size`` decoded messages plus ``callback_batch`` handed to its callback
thread. When both are full the socket's overflow policy applies: ``"block"`` (default)
stops reading the connection until the callback catches up, nothing lost;
``"drop_oldest"`` keeps reading and discards the oldest messages, counted in
:attr:`ThreadedWebsocketManager.dropped`.

Example::

    twm = ThreadedWebsocketManager()
    twm.start()
    name = twm.start_trade_socket(callback=print, symbol="BNBBTC")
    twm.join()
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from ..asyncio.buffer import OverflowPolicy
from ..asyncio.connection import StreamSocket, recv_batch
from ..asyncio.handoff import Handoff
from ..asyncio.manager import BOOK_TICKER_GONE, BinanceSocketManager
from ..errors import InvalidStreamError, ReceiveTimeoutError, StreamClosedError
from .derivatives import ThreadedDerivatives

log = logging.getLogger("binstream")

Callback = Callable[[Any], Any]
#: ``on_event``: called with each :class:`~binstream.events.SocketEvent`, in order, on a
#: thread of the manager's own.
EventCallback = Callable[[Any], Any]
T = TypeVar("T")

STOP_TIMEOUT = 2.0


class _Dispatcher(Handoff):
    """One socket's callback thread: calls the callback per message, in order."""

    def __init__(
        self,
        name: str,
        callback: Callback,
        loop: asyncio.AbstractEventLoop,
        batch: int,
        decode: Callable[[Any], Any] | None = None,
    ) -> None:
        self.callback = callback
        #: The socket's own rule for queued items (long frames wait as text, see
        #: marketsession.LAZY_DECODE_SIZE), applied here, on the callback thread.
        self.decode = decode
        super().__init__(f"binstream-callback:{name}", self._call_each, loop, batch)
        self.stream = name

    def _call_each(self, batch: list[Any]) -> None:
        callback = self.callback
        decode = self.decode
        for message in batch:
            if self.closed:
                return
            try:
                # Only a frame still queued as text needs the socket's decoding.
                callback(decode(message) if decode is not None and type(message) is str
                         else message)  # fmt: skip
            except Exception:
                log.exception("callback for stream %s raised; the stream goes on", self.stream)


class ThreadedWebsocketManager(ThreadedDerivatives):
    """python-binance's ``ThreadedWebsocketManager``, with clean stop and bounded memory.

    Call :meth:`start` first, then ``start_*_socket(callback, ...)``; each returns the
    stream name that :meth:`stop_socket` takes. :meth:`join` waits until :meth:`stop`
    is called from anywhere (another thread, a callback, a signal handler, Ctrl-C).

    Unknown python-binance keyword arguments (``requests_params``, ``session_params``,
    ``https_proxy``, ``verbose``...) are accepted and ignored so copied code runs.

    ``callback_batch`` is how many messages a socket hands its callback thread at once (and
    at most holds there): 1024 by default, about ``max_queue_size``. Fewer means more thread
    wake-ups per message (256: 15 % fewer callbacks per second on aggTrade in the bench).

    Example::

        with ThreadedWebsocketManager(endpoint="ws://127.0.0.1:9000") as twm:
            twm.start_kline_socket(callback=print, symbol="BNBBTC")
            twm.join(timeout=5)
    """

    def __init__(
        self,
        api_key: str | None = None,
        api_secret: str | None = None,
        requests_params: dict[str, Any] | None = None,
        tld: str = "com",
        testnet: bool = False,
        *,
        endpoint: str | None = None,
        rest_endpoint: str | None = None,
        max_retries: float | int | str | None = 5,
        max_queue_size: int = 1000,
        overflow: OverflowPolicy = "block",
        user_timeout: float | None = None,
        stall_timeout: float | None = None,
        backoff_base: float = 0.2,
        backoff_cap: float = 30.0,
        callback_batch: int = 1024,
        private_key: Any = None,
        private_key_pass: str | None = None,
        transport: str | None = None,
        endpoints: dict[str, str] | None = None,
        **ignored: Any,
    ) -> None:
        if ignored:
            log.debug("ignoring python-binance-only options: %s", ", ".join(sorted(ignored)))
        manager_args: dict[str, Any] = dict(
            user_timeout=user_timeout,
            max_queue_size=max_queue_size,
            tld=tld,
            testnet=testnet,
            endpoint=endpoint,
            rest_endpoint=rest_endpoint,
            max_retries=max_retries,
            overflow=overflow,
            stall_timeout=stall_timeout,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            api_key=api_key,
            api_secret=api_secret,
            private_key=private_key,
            private_key_pass=private_key_pass,
            transport=transport,
            endpoints=endpoints,
        )
        # Resolve endpoints now so a bad URL fails in the constructor, not in the thread.
        self._bsm: BinanceSocketManager = BinanceSocketManager(**manager_args)
        self._callback_batch = callback_batch
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._consumers: dict[str, tuple[asyncio.Task[None], _Dispatcher]] = {}
        self._event_thread: concurrent.futures.ThreadPoolExecutor | None = None
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._state = "new"

    def __repr__(self) -> str:
        return f"<ThreadedWebsocketManager {self._state} sockets={len(self._consumers)}>"

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the loop thread. Call once, before any ``start_*_socket``."""
        with self._lock:
            if self._state == "running":
                return
            if self._state == "stopped":
                raise RuntimeError("this ThreadedWebsocketManager was stopped; create a new one")
            ready: concurrent.futures.Future[asyncio.AbstractEventLoop] = (
                concurrent.futures.Future()
            )
            self._thread = threading.Thread(
                target=self._run_loop, args=(ready,), name="binstream-loop", daemon=True
            )
            self._thread.start()
            self._loop = ready.result(timeout=5)
            self._state = "running"

    def _run_loop(self, ready: concurrent.futures.Future[asyncio.AbstractEventLoop]) -> None:
        loop = asyncio.new_event_loop()
        try:
            ready.set_result(loop)
            loop.run_forever()
        finally:
            try:
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    def join(self, timeout: float | None = None) -> bool:
        """Block until :meth:`stop` is called; return True if stopped, False on timeout.

        Ctrl-C while waiting stops every socket and re-raises ``KeyboardInterrupt``.
        """
        if self._state == "new":
            raise RuntimeError("call start() before join()")
        try:
            if timeout is not None:
                return self._stopped.wait(timeout)
            while not self._stopped.wait(0.5):
                pass
            return True
        except KeyboardInterrupt:
            self.stop()
            raise

    def stop(self) -> None:
        """Close every socket with a close frame and end the loop thread.

        Idempotent, callable from any thread including a callback; returns within about
        2 s even while a socket is waiting to reconnect.
        """
        with self._lock:
            if self._state != "running":
                self._state = "stopped"
                self._stopped.set()
                return
            self._state = "stopped"
        loop, thread = self._loop, self._thread
        assert loop is not None and thread is not None
        if threading.current_thread() is thread:
            loop.create_task(self._shutdown())
        else:
            future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            try:
                future.result(timeout=STOP_TIMEOUT)
            except (concurrent.futures.TimeoutError, RuntimeError):
                log.warning("sockets did not close within %.1fs; leaving them", STOP_TIMEOUT)
            thread.join(timeout=0.5)
        if self._event_thread is not None:  # events already queued are still delivered
            self._event_thread.shutdown(wait=threading.current_thread() is not thread)
        self._stopped.set()

    async def _shutdown(self) -> None:
        for name in list(self._consumers):
            await self._stop_consumer(name)
        await self._bsm.close()
        asyncio.get_running_loop().call_soon(asyncio.get_running_loop().stop)

    def __enter__(self) -> ThreadedWebsocketManager:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def is_alive(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._state == "running"

    # -- sockets -------------------------------------------------------------------------

    def _call(self, make: Callable[[], T]) -> T:
        """Run ``make`` on the loop thread and return its result."""
        if self._state != "running":
            raise RuntimeError(
                "ThreadedWebsocketManager is not running: call start() before starting sockets"
                if self._state == "new"
                else "ThreadedWebsocketManager was stopped: sockets cannot be started after stop()"
            )
        loop = self._loop
        assert loop is not None
        if threading.current_thread() is self._thread:
            return make()

        async def run() -> T:
            return make()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=STOP_TIMEOUT)

    def _start_socket(
        self,
        callback: Callback,
        open_socket: Callable[[], Any],
        on_event: EventCallback | None = None,
    ) -> str:
        if not callable(callback):
            raise TypeError("callback must be callable, e.g. callback=print")
        if on_event is not None and not callable(on_event):
            raise TypeError("on_event must be callable, e.g. on_event=print")

        def start() -> str:
            socket = open_socket()
            if on_event is not None:
                # A book socket's events are those of the depth stream under it.
                target = getattr(socket, "socket", socket)
                target.add_event_callback(self._relay(on_event))
            if socket.path in self._consumers:
                log.warning("stream %s is already running; keeping its first callback", socket.path)
                return socket.path
            assert self._loop is not None
            dispatcher = _Dispatcher(socket.path, callback, self._loop, self._callback_batch,
                                     getattr(socket, "_decoded", None))  # fmt: skip
            task = asyncio.get_running_loop().create_task(self._consume(socket, dispatcher))
            self._consumers[socket.path] = (task, dispatcher)
            return socket.path

        return self._call(start)

    def _relay(self, on_event: EventCallback) -> Callable[[Any], None]:
        """``on_event`` run in order on a thread of the manager's own, never on its loop."""
        if self._event_thread is None:
            self._event_thread = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="binstream-events"
            )
        executor = self._event_thread

        def call(event: Any) -> None:
            try:
                on_event(event)
            except Exception:
                log.exception("on_event callback failed")

        def relay(event: Any) -> None:
            executor.submit(call, event)

        return relay

    async def _consume(self, socket: Any, dispatcher: _Dispatcher) -> None:
        async with socket:
            while True:
                try:
                    batch = await recv_batch(socket, dispatcher.high, decode=False)
                except ReceiveTimeoutError:
                    continue
                except StreamClosedError:
                    break
                dispatcher.feed(batch)
                await dispatcher.wait_for_room()
        if self._consumers.get(socket.path, (None, None))[1] is dispatcher:
            # The socket ended by itself (gave up): let the callback drain, then forget it.
            self._consumers.pop(socket.path, None)

    async def _stop_consumer(self, name: str) -> bool:
        entry = self._consumers.pop(name, None)
        if entry is None:
            return False
        task, dispatcher = entry
        dispatcher.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        socket = self._bsm.sockets.get(name)
        if socket is not None:
            await socket.close()
        return True

    def subscribe(self, name: str, streams: Iterable[str]) -> None:
        """Add ``streams`` to the running combined socket ``name`` (what
        ``start_multiplex_socket`` returned); returns once Binance confirmed them.

        Callable from any thread, a callback's included (not from the manager's own event
        loop, where waiting would deadlock). Raises what ``StreamSocket.subscribe`` raises,
        and ``KeyError`` for a name that is not running.
        """
        self._control(name, "subscribe", list(streams))

    def unsubscribe(self, name: str, streams: Iterable[str]) -> None:
        """Remove ``streams`` from the running combined socket ``name``; returns once
        Binance confirmed. Same rules as :meth:`subscribe`."""
        self._control(name, "unsubscribe", list(streams))

    def _control(self, name: str, action: str, streams: list[str]) -> None:
        if self._state != "running":
            raise RuntimeError("ThreadedWebsocketManager is not running")
        if threading.current_thread() is self._thread:
            raise RuntimeError(f"{action}() waits for Binance: call it from another thread")
        loop = self._loop
        assert loop is not None

        async def run() -> None:
            socket = self._bsm.sockets.get(name)
            if socket is None or name not in self._consumers:
                raise KeyError(f"no running socket named {name!r}")
            await getattr(socket, action)(*streams)

        from ..asyncio.connection import CONTROL_TIMEOUT

        asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=CONTROL_TIMEOUT + 5)

    def stop_socket(self, socket_name: str) -> bool:
        """Stop one stream by the name ``start_*_socket`` returned.

        Returns False (and does nothing) for a name that is not running.
        """
        name = socket_name
        if self._state != "running":
            return False
        loop = self._loop
        assert loop is not None
        if threading.current_thread() is self._thread:
            loop.create_task(self._stop_consumer(name))
            return name in self._consumers
        future = asyncio.run_coroutine_threadsafe(self._stop_consumer(name), loop)
        try:
            return future.result(timeout=STOP_TIMEOUT)
        except concurrent.futures.TimeoutError:
            return True

    @property
    def streams(self) -> list[str]:
        """Names of the streams currently running."""
        return list(self._consumers)

    @property
    def dropped(self) -> int:
        """Messages discarded by the ``drop_oldest`` policy, over all running sockets."""
        return sum(s.dropped for s in self._bsm.sockets.values())

    def socket(self, name: str) -> StreamSocket | None:
        """The underlying :class:`StreamSocket` of a running stream (state, stats)."""
        return self._bsm.sockets.get(name)

    # -- python-binance's start_* methods ------------------------------------------------

    def start_socket(
        self,
        callback: Callback,
        streams: str | Iterable[str],
        *,
        market: str = "spot",
        on_event: EventCallback | None = None,
    ) -> str:
        """Any stream name(s) of ``market``, as :meth:`BinanceSocketManager.socket` takes them."""
        names = [streams] if isinstance(streams, str) else list(streams)
        return self._start_socket(callback, lambda: self._bsm.socket(names, market), on_event)

    def start_trade_socket(
        self, callback: Callback, symbol: str, *, on_event: EventCallback | None = None
    ) -> str:
        """Every trade of ``symbol``."""
        return self._start_socket(callback, lambda: self._bsm.trade_socket(symbol), on_event)

    def start_aggtrade_socket(
        self, callback: Callback, symbol: str, *, on_event: EventCallback | None = None
    ) -> str:
        """Aggregated trades of ``symbol``."""
        return self._start_socket(callback, lambda: self._bsm.aggtrade_socket(symbol), on_event)

    def start_kline_socket(
        self,
        callback: Callback,
        symbol: str,
        interval: object = "1m",
        *,
        on_event: EventCallback | None = None,
        **kwargs: Any,
    ) -> str:
        """Candlesticks of ``symbol`` (``interval`` defaults to 1 minute)."""
        timezone = kwargs.get("timezone")
        return self._start_socket(
            callback, lambda: self._bsm.kline_socket(symbol, interval, timezone=timezone), on_event
        )

    def start_depth_socket(
        self,
        callback: Callback,
        symbol: str,
        depth: object | None = None,
        interval: object | None = None,
        *,
        on_event: EventCallback | None = None,
    ) -> str:
        """Diff book, or partial book of 5/10/20 levels; ``interval`` 100 for 100 ms."""
        return self._start_socket(
            callback, lambda: self._bsm.depth_socket(symbol, depth, interval), on_event
        )

    def start_symbol_ticker_socket(
        self, callback: Callback, symbol: str, *, on_event: EventCallback | None = None
    ) -> str:
        """24 h ticker of ``symbol``."""
        return self._start_socket(
            callback, lambda: self._bsm.symbol_ticker_socket(symbol), on_event
        )

    def start_symbol_rolling_window_ticker_socket(
        self,
        callback: Callback,
        symbol: str,
        window: object,
        *,
        on_event: EventCallback | None = None,
    ) -> str:
        """Rolling-window (1h, 4h, 1d) ticker of ``symbol``."""
        return self._start_socket(
            callback,
            lambda: self._bsm.symbol_rolling_window_ticker_socket(symbol, window),
            on_event,
        )

    def start_ticker_socket(
        self, callback: Callback, *, on_event: EventCallback | None = None
    ) -> str:
        """All-market tickers (``!ticker_1d@arr``: Binance retired ``!ticker@arr``)."""
        return self._start_socket(callback, self._bsm.ticker_socket, on_event)

    def start_miniticker_socket(
        self, callback: Callback, update_time: int = 1000, *, on_event: EventCallback | None = None
    ) -> str:
        """All-market mini tickers."""
        return self._start_socket(
            callback, lambda: self._bsm.miniticker_socket(update_time), on_event
        )

    def start_symbol_miniticker_socket(
        self, callback: Callback, symbol: str, *, on_event: EventCallback | None = None
    ) -> str:
        """Mini ticker of ``symbol``."""
        return self._start_socket(
            callback, lambda: self._bsm.symbol_miniticker_socket(symbol), on_event
        )

    def start_symbol_book_ticker_socket(
        self, callback: Callback, symbol: str, *, on_event: EventCallback | None = None
    ) -> str:
        """Best bid/ask of ``symbol`` in real time."""
        return self._start_socket(
            callback, lambda: self._bsm.symbol_book_ticker_socket(symbol), on_event
        )

    def start_book_ticker_socket(
        self, callback: Callback, *, on_event: EventCallback | None = None
    ) -> str:
        """python-binance's all-market ``!bookTicker``: gone from Binance spot.

        Raises :class:`~binstream.InvalidStreamError` naming what to use instead.
        """
        raise InvalidStreamError(BOOK_TICKER_GONE.replace("symbol_book_ticker_socket",
                                 "start_symbol_book_ticker_socket").replace(
                                 "multiplex_socket", "start_multiplex_socket"))  # fmt: skip

    def start_avg_price_socket(
        self, callback: Callback, symbol: str, *, on_event: EventCallback | None = None
    ) -> str:
        """Five-minute average price of ``symbol``."""
        return self._start_socket(callback, lambda: self._bsm.avg_price_socket(symbol), on_event)

    def start_book_socket(
        self,
        callback: Callback,
        symbol: str,
        levels: int = 20,
        *,
        on_event: EventCallback | None = None,
        **options: Any,
    ) -> str:
        """A local order book; the callback gets the top ``levels`` after every update."""
        return self._start_socket(
            callback, lambda: self._bsm.book_socket(symbol, levels, **options), on_event
        )

    def start_user_socket(
        self,
        callback: Callback,
        *,
        logon: bool = False,
        recv_window: int | None = None,
        on_event: EventCallback | None = None,
    ) -> str:
        """Account events over the WebSocket API, with the keys given to the constructor."""
        return self._start_socket(
            callback, lambda: self._bsm.user_socket(logon=logon, recv_window=recv_window), on_event
        )

    def start_multiplex_socket(
        self, callback: Callback, streams: Iterable[str], *, on_event: EventCallback | None = None
    ) -> str:
        """One combined socket for raw stream names; messages carry ``stream`` and ``data``."""
        names = list(streams)
        return self._start_socket(callback, lambda: self._bsm.multiplex_socket(names), on_event)
