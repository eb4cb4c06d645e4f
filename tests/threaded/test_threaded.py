"""ThreadedWebsocketManager: python-binance's documented flow and the races around stop."""

from __future__ import annotations

import logging
import resource
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import pytest

from binstream import SocketState, ThreadedWebsocketManager
from binstream.server import Faults, LocalExchange

from ..conftest import ExchangeThread, spawn_sync

pytestmark = pytest.mark.usefixtures("transport")  # every test runs on each transport


class Inbox:
    """Collects callback messages and lets the test wait for a count."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.cond = threading.Condition()

    def __call__(self, message: Any) -> None:
        with self.cond:
            self.messages.append(message)
            self.cond.notify_all()

    def wait(self, count: int, timeout: float = 10) -> list[Any]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.messages) >= count, timeout), (
                f"only {len(self.messages)} of {count} messages arrived"
            )
            return list(self.messages)

    def wait_for(self, predicate: Any, timeout: float = 10) -> Any:
        with self.cond:
            found: list[Any] = []

            def check() -> bool:
                found[:] = [m for m in self.messages if predicate(m)]
                return bool(found)

            assert self.cond.wait_for(check, timeout), "expected message did not arrive"
            return found[0]


def wait_until(predicate: Any, timeout: float = 10) -> None:
    """Poll a condition that has no event to wait on, failing after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


def twm_for(exchange: LocalExchange, **kwargs: Any) -> ThreadedWebsocketManager:
    kwargs.setdefault("backoff_base", 0.02)
    kwargs.setdefault("backoff_cap", 0.2)
    return ThreadedWebsocketManager(endpoint=exchange.url, **kwargs)


def test_seed_example_flow(exchange_thread: tuple[ExchangeThread, LocalExchange]) -> None:
    _, exchange = exchange_thread
    # python-binance keyword arguments are accepted and ignored.
    twm = twm_for(exchange, api_key=None, api_secret=None, requests_params={"timeout": 5})
    twm.start()
    klines, depth, multiplex = Inbox(), Inbox(), Inbox()
    kline_name = twm.start_kline_socket(callback=klines, symbol="BNBBTC")
    depth_name = twm.start_depth_socket(callback=depth, symbol="BNBBTC", depth=5)
    multi_name = twm.start_multiplex_socket(
        callback=multiplex, streams=["bnbbtc@aggTrade", "neobtc@ticker"]
    )
    assert (kline_name, depth_name) == ("bnbbtc@kline_1m", "bnbbtc@depth5")
    assert multi_name == "streams=bnbbtc@aggTrade/neobtc@ticker"
    assert all(m["e"] == "kline" for m in klines.wait(3))
    assert all(len(m["bids"]) == 5 for m in depth.wait(3))
    multiplex.wait_for(lambda m: m["stream"] == "neobtc@ticker")
    assert {m["stream"] for m in multiplex.wait(5)} <= {"bnbbtc@aggTrade", "neobtc@ticker"}
    assert twm.join(timeout=0.05) is False  # still running
    assert twm.stop_socket(depth_name) is True
    assert twm.stop_socket(depth_name) is False
    assert twm.stop_socket("nosuch@trade") is False
    assert set(twm.streams) == {kline_name, multi_name}
    count = len(depth.messages)
    twm.stop()
    assert twm.join() is True
    assert len(depth.messages) <= count + 256  # nothing more than what was in flight
    with pytest.raises(RuntimeError, match="stopped"):
        twm.start_trade_socket(callback=print, symbol="bnbbtc")


def test_socket_before_start_is_a_clear_error(
    exchange_thread: tuple[ExchangeThread, LocalExchange],
) -> None:
    twm = twm_for(exchange_thread[1])
    with pytest.raises(RuntimeError, match=r"call start\(\)"):
        twm.start_trade_socket(callback=print, symbol="bnbbtc")


def test_stop_from_a_callback_and_from_another_thread(
    exchange_thread: tuple[ExchangeThread, LocalExchange],
) -> None:
    _, exchange = exchange_thread
    twm = twm_for(exchange)
    twm.start()
    inbox = Inbox()

    def stopping(message: Any) -> None:
        inbox(message)
        twm.stop()

    twm.start_trade_socket(callback=stopping, symbol="bnbbtc")
    assert twm.join(timeout=5) is True
    assert not twm.is_alive

    other = twm_for(exchange)
    other.start()
    other.start_trade_socket(callback=Inbox(), symbol="bnbbtc")
    threading.Timer(0.1, other.stop).start()
    started = time.monotonic()
    assert other.join(timeout=5) is True
    assert time.monotonic() - started < 2.5
    other.stop()  # idempotent


def test_stop_during_backoff_returns_promptly(
    exchange_thread: tuple[ExchangeThread, LocalExchange],
) -> None:
    holder, exchange = exchange_thread
    holder.call(exchange.refuse, 1000)
    twm = twm_for(exchange, backoff_base=30, backoff_cap=30)
    twm.start()
    name = twm.start_trade_socket(callback=Inbox(), symbol="bnbbtc")
    socket = twm.socket(name)
    assert socket is not None
    wait_until(lambda: socket.state is SocketState.RECONNECTING)
    started = time.monotonic()
    twm.stop()
    assert time.monotonic() - started < 2.0
    alive = [t.name for t in threading.enumerate() if t.name == "binstream-loop"]
    assert alive == []


def test_raising_callback_is_logged_and_stream_goes_on(
    exchange_thread: tuple[ExchangeThread, LocalExchange], caplog: pytest.LogCaptureFixture
) -> None:
    _, exchange = exchange_thread
    calls = Inbox()

    def flaky(message: Any) -> None:
        calls(message)
        if len(calls.messages) % 2:
            raise ValueError("boom")

    with caplog.at_level(logging.ERROR, logger="binstream"), twm_for(exchange) as twm:
        twm.start_trade_socket(callback=flaky, symbol="bnbbtc")
        good = Inbox()
        twm.start_aggtrade_socket(callback=good, symbol="bnbbtc")
        calls.wait(6)
        good.wait(3)
    assert "callback for stream bnbbtc@trade raised" in caplog.text
    assert "boom" in caplog.text


def test_give_up_error_dict_reaches_the_callback(
    exchange_thread: tuple[ExchangeThread, LocalExchange],
) -> None:
    holder, exchange = exchange_thread
    holder.call(exchange.refuse, 1000)
    inbox = Inbox()
    with twm_for(exchange, max_retries=2) as twm:
        twm.start_trade_socket(callback=inbox, symbol="bnbbtc")
        message = inbox.wait_for(lambda m: m.get("e") == "error")
    assert message["type"] == "BinanceWebsocketUnableToConnect"
    assert message["m"].startswith("Max reconnect retries reached")


def test_drop_error_dict_then_data_again(
    exchange_thread: tuple[ExchangeThread, LocalExchange],
) -> None:
    holder, exchange = exchange_thread
    holder.call(setattr, exchange, "faults", Faults(drop_after=3, times=1))
    inbox = Inbox()
    with twm_for(exchange) as twm:
        twm.start_trade_socket(callback=inbox, symbol="bnbbtc")
        inbox.wait_for(lambda m: m.get("type") == "BinanceWebsocketClosed")
        inbox.wait(8)
    ids = [m["t"] for m in inbox.messages if m.get("e") == "trade"]
    assert ids == sorted(set(ids))


# The bound lives in the buffer and the hand-off, above the transport: one run.
@pytest.mark.transport_independent
def test_slow_callback_keeps_memory_bounded() -> None:
    with ExchangeThread(interval=0.001, seed=3) as exchange:
        streams = [f"{s.lower()}@depth20@100ms" for s in exchange.markets]
        streams += [f"{s.lower()}@trade" for s in exchange.markets]
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        received = Inbox()

        def slow(message: Any) -> None:
            received(message)
            time.sleep(0.005)

        with twm_for(exchange) as twm:
            name = twm.start_multiplex_socket(callback=slow, streams=streams)
            received.wait(300, timeout=20)
            socket = twm.socket(name)
            assert socket is not None and len(socket.buffer) <= socket.buffer.maxsize
        growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert growth_mb < 60, f"peak RSS grew by {growth_mb:.0f} MB"


@pytest.mark.parametrize(
    ("number", "code"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)],
    ids=["INT", "TERM", "HUP"],
)
def test_a_stop_signal_during_join_stops_promptly(
    exchange_thread: tuple[ExchangeThread, LocalExchange], number: int, code: int
) -> None:
    _, exchange = exchange_thread
    script = textwrap.dedent(
        f"""
        import sys, threading
        from binstream import ThreadedWebsocketManager
        twm = ThreadedWebsocketManager(endpoint={exchange.url!r})
        twm.start()
        first = threading.Event()
        def callback(message):
            # Say "ready" from the callback thread: by then the main thread waits in join().
            if not first.is_set():
                first.set()
                print("ready", flush=True)
        try:
            twm.start_trade_socket(callback=callback, symbol="bnbbtc")
            twm.join()
        except KeyboardInterrupt:
            print("stopped" if not twm.is_alive else "still alive", flush=True)
            sys.exit(130)
        except SystemExit:
            print("stopped" if not twm.is_alive else "still alive", flush=True)
            raise
        """
    )
    proc = spawn_sync(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(number)
    started = time.monotonic()
    out, err = proc.communicate(timeout=10)
    assert time.monotonic() - started < 3
    assert out.strip() == "stopped" and proc.returncode == code, err


def test_subscribe_and_unsubscribe_from_a_callback(
    exchange_thread: tuple[ExchangeThread, LocalExchange],
) -> None:
    """The threaded manager changes a running socket from any thread, a callback's too."""
    twm = twm_for(exchange_thread[1])
    twm.start()
    try:
        inbox = Inbox()
        done = threading.Event()
        named = threading.Event()  # the first message may come before start_* returns
        errors: list[BaseException] = []

        def callback(message: Any) -> None:
            inbox(message)
            if len(inbox.messages) == 1:  # the first message: change the set from here
                try:
                    assert named.wait(15)
                    twm.subscribe(name, ["ethbtc@trade"])
                    twm.unsubscribe(name, ["bnbbtc@trade"])
                except BaseException as exc:  # reported to the test thread
                    errors.append(exc)
                done.set()

        name = twm.start_multiplex_socket(callback=callback, streams=["bnbbtc@trade"])
        named.set()
        assert done.wait(15) and errors == []
        # What was queued before the unsubscribe still arrives; then only ethbtc.
        with inbox.cond:
            assert inbox.cond.wait_for(
                lambda: [m["stream"] for m in inbox.messages[-30:]] == ["ethbtc@trade"] * 30, 15
            ), "bnbbtc@trade messages kept coming after the unsubscribe"
        with pytest.raises(KeyError):
            twm.subscribe("streams=nosuch@trade", ["ethbtc@trade"])
    finally:
        twm.stop()


def test_on_event_reports_the_sockets_life_on_a_thread_of_its_own(
    exchange_thread: tuple[ExchangeThread, LocalExchange],
) -> None:
    from binstream.events import EventKind

    holder, exchange = exchange_thread
    twm = twm_for(exchange)
    twm.start()
    events = Inbox()
    threads: set[str] = set()

    def on_event(event: Any) -> None:
        threads.add(threading.current_thread().name)
        events(event)

    try:
        twm.start_trade_socket(Inbox(), "bnbbtc", on_event=on_event)
        events.wait_for(lambda e: e.kind is EventKind.FIRST_MESSAGE)
        holder.call(exchange.drop_all, False)
        events.wait_for(lambda e: e.kind is EventKind.RECONNECTING)
        kinds = [e.kind for e in events.messages]
        assert kinds[:3] == [EventKind.CONNECTING, EventKind.CONNECTED, EventKind.FIRST_MESSAGE]
        assert EventKind.DISCONNECTED in kinds
        assert threads == {"binstream-events_0"}
    finally:
        twm.stop()
