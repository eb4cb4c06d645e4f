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
import contextlib
import inspect
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from ..asyncio.handoff import Handoff
from ..asyncio.manager import BinanceSocketManager
from ..asyncio.options import SocketOptions
from ..asyncio.stream_socket import StreamSocket, recv_batch
from ..errors import ReceiveTimeoutError, StreamClosedError, UnknownSymbolError
from ..messages import UNABLE_TO_CONNECT, error_message
from .socket_methods import Callback, EventCallback, add_start_methods

log = logging.getLogger("binstream")

T = TypeVar("T")

#: The socket manager's options the threaded manager passes on by keyword.
MANAGER_OPTIONS = frozenset(inspect.signature(BinanceSocketManager).parameters) - {"client"}

STOP_TIMEOUT = 2.0
#: How long ``start_*_socket`` waits for the market's exchangeInfo to check symbols.
CHECK_TIMEOUT = 15.0


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
        #: market_session.LAZY_DECODE_SIZE; SBE book frames as they came), applied here, on
        #: the callback thread.
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
                # Only a frame still queued as it came (long JSON text, an SBE book frame)
                # needs the socket's decoding.
                callback(decode(message) if decode is not None and type(message) is not dict
                         else message)  # fmt: skip
            except Exception:
                log.exception("callback for stream %s raised; the stream goes on", self.stream)


class _StopSignal(BaseException):
    """SIGTERM or SIGHUP arrived while :meth:`ThreadedWebsocketManager.join` waited."""


@contextlib.contextmanager
def _stop_signals_raise() -> Iterator[list[int]]:
    """While the block runs in the main thread, SIGTERM and SIGHUP (where their disposition
    is the default) raise :class:`_StopSignal` there; the list gets the signal's number. A
    second signal ends the process by that signal. Handlers are put back afterwards."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(number: int, frame: object) -> None:
        if received:
            signal.signal(number, signal.SIG_DFL)
            os.kill(os.getpid(), number)
            return
        received.append(number)
        raise _StopSignal

    previous = {}
    for number in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(number) is signal.SIG_DFL:
            previous[number] = signal.signal(number, handler)
    try:
        yield received
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


@add_start_methods(BinanceSocketManager)
class ThreadedWebsocketManager:
    """python-binance's ``ThreadedWebsocketManager``, with clean stop and bounded memory.

    Call :meth:`start` first, then ``start_*_socket(callback, ...)``; each returns the
    stream name that :meth:`stop_socket` takes. :meth:`join` waits until :meth:`stop`
    is called from anywhere (another thread, a callback, a signal handler, Ctrl-C).

    Every option of :class:`BinanceSocketManager` (``endpoint``, ``max_retries``,
    ``overflow``, ``max_age``, ``market_data_only``, ``transport``...) is taken by keyword
    and passed on; ``user_timeout`` defaults to None here, since callbacks wait for nothing.
    Other python-binance keyword arguments (``requests_params``, ``session_params``,
    ``https_proxy``...) are accepted and ignored so copied code runs.

    ``callback_batch`` is how many messages a socket hands its callback thread at once (and
    at most holds there): 1024 by default, about ``max_queue_size``. Fewer means more thread
    wake-ups per message.

    The ``start_*`` methods are derived from :class:`BinanceSocketManager`'s socket methods
    (:mod:`binstream.threaded.socket_methods`): each takes ``callback`` first, then the
    parameters of the method of the same name without ``start_``, and a keyword-only
    ``on_event``.

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
        callback_batch: int = 1024,
        **options: Any,
    ) -> None:
        manager_args: dict[str, Any] = {"user_timeout": None}
        ignored = []
        for name, value in options.items():
            if name in MANAGER_OPTIONS:
                manager_args[name] = value
            else:
                ignored.append(name)
        if ignored:
            log.debug("ignoring python-binance-only options: %s", ", ".join(sorted(ignored)))
        # Resolve endpoints now so a bad URL fails in the constructor, not in the thread.
        self._bsm: BinanceSocketManager = BinanceSocketManager(
            tld=tld, testnet=testnet, api_key=api_key, api_secret=api_secret, **manager_args
        )
        self._callback_batch = callback_batch
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._consumers: dict[str, tuple[asyncio.Task[None], _Dispatcher]] = {}
        self._event_thread: concurrent.futures.ThreadPoolExecutor | None = None
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._state = "new"

    if TYPE_CHECKING:
        # The start_* methods are made at run time (socket_methods.add_start_methods): to a
        # type checker each is a callable returning the socket's name.
        def __getattr__(self, name: str) -> Callable[..., str]: ...

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

        Ctrl-C while waiting stops every socket and re-raises ``KeyboardInterrupt``. Called
        from the main thread, SIGTERM (``docker stop``, ``systemctl stop``) and SIGHUP
        while waiting do the same and raise ``SystemExit(128 + signal)`` (143, 129), unless
        the program handles or ignores them itself; a second one ends the process at once.
        """
        if self._state == "new":
            raise RuntimeError("call start() before join()")
        with _stop_signals_raise() as received:
            try:
                if timeout is not None:
                    return self._stopped.wait(timeout)
                while not self._stopped.wait(0.5):
                    pass
                return True
            except (KeyboardInterrupt, _StopSignal):
                self.stop()
                if received:
                    raise SystemExit(128 + received[0]) from None
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

        socket = self._call(open_socket)
        self._check_symbols(socket)

        def start() -> str:
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

    def _check_symbols(self, socket: Any) -> None:
        """Raise :class:`~binstream.UnknownSymbolError` in the caller's thread for a socket
        whose symbols the market does not list (from the loop's own thread, where waiting
        would deadlock, the socket reports it to the callback as an error dict instead)."""
        check = getattr(getattr(socket, "socket", socket), "check_symbols", None)
        if check is None or threading.current_thread() is self._thread:
            return
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(check(), self._loop)
        try:
            future.result(timeout=CHECK_TIMEOUT)
        except UnknownSymbolError:
            if socket.path not in self._consumers:
                asyncio.run_coroutine_threadsafe(socket.close(), self._loop).result(STOP_TIMEOUT)
            raise
        except concurrent.futures.TimeoutError:
            future.cancel()  # the socket checks again before it connects

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
        try:
            await self._read(socket, dispatcher)
        except UnknownSymbolError as exc:  # started from the loop's thread: said in line
            dispatcher.feed([error_message(UNABLE_TO_CONNECT, str(exc))])
        if self._consumers.get(socket.path, (None, None))[1] is dispatcher:
            # The socket ended by itself (gave up): let the callback drain, then forget it.
            self._consumers.pop(socket.path, None)

    async def _read(self, socket: Any, dispatcher: _Dispatcher) -> None:
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

        from ..asyncio.stream_socket import CONTROL_TIMEOUT

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
    def options(self) -> SocketOptions:
        """The options every socket of this manager runs with (retries, queue, age...)."""
        return self._bsm.options

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
