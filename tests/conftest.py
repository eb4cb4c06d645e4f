"""Shared fixtures: a local exchange on 127.0.0.1 and helpers to run the real CLI."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from binstream import BinanceSocketManager
from binstream.server import LocalExchange

FAST = 0.005  # market step period for tests: about 200 steps per second
TRANSPORTS = ["websockets", "picows"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``transport_independent`` (they never open a websocket) run once."""
    items[:] = [
        item
        for item in items
        if not (
            item.get_closest_marker("transport_independent")
            and getattr(item, "callspec", None) is not None
            and item.callspec.params.get("transport", "websockets") != "websockets"
        )
    ]


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test once per websocket transport (integration modules use it for every test).

    The choice travels as ``$BINSTREAM_TRANSPORT``, so managers made in the test and CLI
    processes it starts use it alike.
    """
    name: str = request.param
    if name == "picows":
        pytest.importorskip("picows", reason="picows (the [picows] extra) is not installed")
    monkeypatch.setenv("BINSTREAM_TRANSPORT", name)
    return name


@pytest.fixture
async def exchange() -> AsyncIterator[LocalExchange]:
    async with LocalExchange(interval=FAST, seed=7) as ex:
        yield ex


@pytest.fixture
def manager(exchange: LocalExchange) -> BinanceSocketManager:
    return BinanceSocketManager(
        endpoint=exchange.url, user_timeout=5, backoff_base=0.02, backoff_cap=0.2
    )


#: Children started by this test process, killed after each test if still running.
_CHILDREN: list[int] = []


def default_signals() -> None:
    """In a child before it runs: SIGINT, SIGTERM and SIGHUP back to their defaults.

    A parent that ignores SIGINT (a background job in a script, nohup, some CI runners)
    passes that on to every child; a child that ignores the signal a test sends it would
    outlive the test.
    """
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)


async def spawn(*args: Any, **kwargs: Any) -> asyncio.subprocess.Process:
    """:func:`asyncio.create_subprocess_exec` with default signal dispositions, reaped
    after the test (killed if it outlived it)."""
    proc = await asyncio.create_subprocess_exec(*args, preexec_fn=default_signals, **kwargs)
    _CHILDREN.append(proc.pid)
    return proc


async def line_with(stream: asyncio.StreamReader, text: str, timeout: float = 15) -> str:
    """The first line of ``stream`` (a child's stderr) that holds ``text``; fails if the
    stream ends first or nothing comes within ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while True:
            line = (await stream.readline()).decode()
            assert line, f"the process ended before saying {text!r}"
            if text in line:
                return line


def spawn_sync(*args: Any, **kwargs: Any) -> subprocess.Popen[Any]:
    """:class:`subprocess.Popen` with default signal dispositions, reaped after the test."""
    proc = subprocess.Popen(*args, preexec_fn=default_signals, **kwargs)
    _CHILDREN.append(proc.pid)
    return proc


@pytest.fixture(autouse=True)
def _no_child_outlives_its_test() -> Iterator[None]:
    yield
    while _CHILDREN:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(_CHILDREN.pop(), signal.SIGKILL)


@dataclass
class Completed:
    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


def cli_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BINSTREAM_", "BINANCE_")) or k == "BINSTREAM_TRANSPORT"
    }
    env.update(COLUMNS="100", NO_COLOR="1", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


async def run_cli(*args: str, timeout: float = 30, env: dict[str, str] | None = None) -> Completed:
    """Run ``python -m binstream ARGS`` as a real process and collect its output."""
    proc = await spawn(
        sys.executable,
        "-m",
        "binstream",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env or cli_env(),
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        raise AssertionError(f"binstream {' '.join(args)} did not finish: {err.decode()}") from None
    assert proc.returncode is not None
    return Completed(proc.returncode, out.decode(), err.decode())


class ExchangeThread:
    """A local exchange on its own thread and loop, for code that blocks (threads, CLI)."""

    def __init__(self, **kwargs: object) -> None:
        import threading

        self.kwargs = kwargs
        self.ready = threading.Event()
        self.exchange: LocalExchange | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, name="test-exchange", daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            async with LocalExchange(**self.kwargs) as ex:  # type: ignore[arg-type]
                self.exchange = ex
                self.ready.set()
                await self._stop.wait()

        asyncio.run(main())

    def call(self, fn: object, *args: object) -> None:
        """Run ``fn(*args)`` on the exchange's loop (to change faults safely)."""
        assert self.loop is not None
        self.loop.call_soon_threadsafe(fn, *args)  # type: ignore[arg-type]

    def __enter__(self) -> LocalExchange:
        self.thread.start()
        assert self.ready.wait(10), "local exchange did not start"
        assert self.exchange is not None
        return self.exchange

    def __exit__(self, *exc: object) -> None:
        assert self.loop is not None and self._stop is not None
        self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(10)


@pytest.fixture
def exchange_thread() -> object:
    holder = ExchangeThread(interval=FAST, seed=11)
    with holder as ex:
        yield holder, ex


def check_views(exchange: LocalExchange, views: list[dict[str, Any]], levels: int) -> int:
    """Compare book views with the exchange's true book at the same update id (its
    ``book_history``); the number of views that could be compared."""
    from binstream.book import compare

    history = exchange.books["BNBBTC"]
    checked = 0
    for view in views:
        truth = history.get(view["lastUpdateId"])
        if truth is None:
            continue
        assert compare(view, {"bids": truth["bids"][:levels], "asks": truth["asks"][:levels]}) == []
        assert len(view["bids"]) == min(levels, len(truth["bids"]))
        checked += 1
    return checked
