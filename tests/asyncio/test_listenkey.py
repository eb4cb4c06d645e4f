"""Futures, options and portfolio margin account streams: the listenKey lifecycle against
the local exchange (accelerated: keys live seconds, not an hour)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any

import pytest

from binstream import BinanceSocketManager, SocketState, ThreadedWebsocketManager
from binstream.server import LocalExchange
from binstream.server.demo import DEMO_API_KEY
from binstream.venues import Market

from ..conftest import FAST, ExchangeThread, cli_env, run_cli

pytestmark = pytest.mark.usefixtures("transport")  # every test runs on each transport

ACCOUNT_EVENTS = {"ORDER_TRADE_UPDATE", "TRADE_LITE", "ACCOUNT_UPDATE"}


@pytest.fixture
async def accounts() -> Any:
    async with LocalExchange(interval=FAST, seed=9, listen_key_ttl=1.0) as ex:
        yield ex


def manager(ex: LocalExchange, **kwargs: Any) -> BinanceSocketManager:
    kwargs.setdefault("api_key", DEMO_API_KEY)
    return BinanceSocketManager(endpoint=ex.url, user_timeout=10, backoff_base=0.02, **kwargs)


async def take(socket: Any, count: int) -> list[dict[str, Any]]:
    out = []
    async with asyncio.timeout(15):
        while len(out) < count:
            message = await socket.recv()
            assert message.get("e") != "error", message
            out.append(message)
    return out


@pytest.mark.parametrize(
    ("method", "market"),
    [("futures_user_socket", Market.USDM), ("futures_socket", Market.USDM),
     ("coin_futures_user_socket", Market.COINM), ("coin_futures_socket", Market.COINM),
     ("options_user_socket", Market.OPTIONS), ("portfolio_margin_socket", Market.USDM)],
)  # fmt: skip
async def test_every_account_socket_delivers_the_demo_accounts_events(
    accounts: LocalExchange, method: str, market: Market
) -> None:
    socket = getattr(manager(accounts), method)()
    async with socket:
        events = await take(socket, 4)
    assert {e["e"] for e in events} <= ACCOUNT_EVENTS
    order = next(e for e in events if e["e"] == "ORDER_TRADE_UPDATE")["o"]
    assert {"s", "S", "o", "X", "x", "i", "z", "ap", "ps"} <= set(order)
    venue = accounts.venues[market]
    calls = (venue.portfolio if method == "portfolio_margin_socket" else venue.accounts).calls
    assert calls["POST"] >= 1 and calls["DELETE"] == 1  # made, then closed with the socket


# The listenKey session's logic sits above the transport (the account sockets and a
# reconnect run on both).
@pytest.mark.transport_independent
async def test_the_key_is_kept_alive_and_never_lapses(accounts: LocalExchange) -> None:
    bm = manager(accounts)
    renewed: list[Any] = []
    socket = bm.futures_user_socket(keepalive_interval=0.2, events=["ORDER_TRADE_UPDATE"])
    socket.add_event_callback(lambda e: renewed.append(e) if e.kind == "renewed" else None)
    store = accounts.venues[Market.USDM].accounts
    async with socket:
        events = await take(socket, 3)
        async with asyncio.timeout(10):  # five keepalives: 1 s, past the key's 1 s life
            while store.calls["PUT"] < 5:
                await take(socket, 1)
        assert socket.state is SocketState.OPEN
    assert {e["e"] for e in events} == {"ORDER_TRADE_UPDATE"}  # the events= filter
    assert renewed == []


# The listenKey session's logic sits above the transport (the account sockets and a
# reconnect run on both).
@pytest.mark.transport_independent
async def test_an_expired_key_is_replaced_and_the_stream_goes_on(
    accounts: LocalExchange, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="binstream")
    bm = manager(accounts)
    notices: list[Any] = []
    socket = bm.futures_user_socket(keepalive_interval=60)  # no keepalive before expiry
    socket.add_event_callback(lambda e: notices.append(e) if e.kind == "renewed" else None)
    store = accounts.venues[Market.USDM].accounts
    async with socket:
        await take(socket, 1)
        first_key = next(iter(store.keys))
        store.expire_now()
        async with asyncio.timeout(10):
            while not notices:
                await take(socket, 1)
        await take(socket, 2)  # events flow on the new key
        second_key = [k for k in store.keys if k != first_key]
    assert len(notices) == 1 and "renewed" in notices[0].detail
    assert second_key and second_key[0] != first_key
    assert first_key not in caplog.text and second_key[0] not in caplog.text  # masked


async def test_a_reconnect_keeps_the_key_and_says_nothing_of_renewal(
    accounts: LocalExchange,
) -> None:
    bm = manager(accounts)
    kinds: list[str] = []
    socket = bm.coin_futures_user_socket()
    socket.add_event_callback(lambda e: kinds.append(e.kind.value))
    store = accounts.venues[Market.COINM].accounts
    async with socket:
        await take(socket, 1)
        assert store.drop_connections() == 1
        errors = []
        async with asyncio.timeout(10):
            while True:
                message = await socket.recv()
                if message.get("e") == "error":
                    errors.append(message)
                elif errors:
                    break
        assert len(store.keys) == 1  # POST on reconnect returned the same, extended key
    assert errors[0]["type"] == "BinanceWebsocketClosed"
    assert "renewed" not in kinds and kinds.count("connected") == 2


# The listenKey session's logic sits above the transport (the account sockets and a
# reconnect run on both).
@pytest.mark.transport_independent
async def test_a_wrong_api_key_ends_the_stream_with_an_auth_error(
    accounts: LocalExchange, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "WrongKey" + "x" * 56
    bm = manager(accounts, api_key=wrong)
    async with bm.futures_user_socket() as socket:
        message = await asyncio.wait_for(socket.recv(), 10)
    assert message["type"] == "BinanceUserStreamAuthError"
    assert "-2015" in message["m"] and wrong not in message["m"] and "Wron…" in message["m"]
    assert socket.state is SocketState.FAILED
    assert wrong not in caplog.text


# The listenKey session's logic sits above the transport (the account sockets and a
# reconnect run on both).
@pytest.mark.transport_independent
async def test_only_the_api_key_is_needed(accounts: LocalExchange) -> None:
    """listenKey calls carry no signature: no secret, and no clock, is involved."""
    bm = manager(accounts, api_secret=None)
    async with bm.options_user_socket() as socket:
        assert (await take(socket, 1))[0]["e"] in ACCOUNT_EVENTS


# The listenKey session's logic sits above the transport (the account sockets and a
# reconnect run on both).
@pytest.mark.transport_independent
async def test_stop_during_keepalives_closes_the_key_promptly(accounts: LocalExchange) -> None:
    bm = manager(accounts)
    store = accounts.venues[Market.USDM].accounts
    socket = bm.futures_user_socket(keepalive_interval=0.05)
    async with socket:
        async with asyncio.timeout(10):
            while store.calls["PUT"] < 3:
                await take(socket, 1)
        loop = asyncio.get_running_loop()
        started = loop.time()
    assert loop.time() - started < 2.0
    assert store.calls["DELETE"] == 1 and not store.keys


THREADED_ACCOUNT_METHODS = [
    ("start_futures_user_socket", (), "futures"),
    ("start_coin_futures_socket", (), "coin_futures"),
    ("start_options_user_socket", (), "options_user"),
    ("start_portfolio_margin_socket", (), "portfolio_margin"),
    ("start_margin_socket", (), "margin"),
    ("start_isolated_margin_socket", ("BNBBTC",), "BNBBTC"),
]


def test_threaded_account_sockets(transport: str) -> None:
    with ExchangeThread(interval=FAST, seed=9) as exchange:
        twm = ThreadedWebsocketManager(api_key=DEMO_API_KEY, endpoint=exchange.url)
        twm.start()
        got: dict[str, list[Any]] = {}
        done = threading.Event()

        def collect(name: str) -> Any:
            def callback(message: Any) -> None:
                got.setdefault(name, []).append(message)
                if len(got) == len(THREADED_ACCOUNT_METHODS):
                    done.set()

            return callback

        for method, args, expected in THREADED_ACCOUNT_METHODS:
            assert getattr(twm, method)(collect(expected), *args) == expected
        assert done.wait(15), sorted(got)
        twm.stop()
        assert twm.join(5)
    for name, messages in got.items():
        assert all(m.get("e") != "error" for m in messages), (name, messages[:2])


# The listenKey session's logic sits above the transport (the account sockets and a
# reconnect run on both).
@pytest.mark.transport_independent
async def test_cli_account_streams(accounts: LocalExchange) -> None:
    env = cli_env(BINSTREAM_ENDPOINT=accounts.url, BINANCE_API_KEY=DEMO_API_KEY)
    usdm, wrong, no_key, mixed = await asyncio.gather(
        run_cli("user", "--market", "usdm", "--json", "-n", "3", "--events",
                "ORDER_TRADE_UPDATE,ACCOUNT_UPDATE", env=env),
        run_cli("user", "--market", "coinm", "--json", "-n", "1", "--api-key", "Bad" + "k" * 40,
                "--retries", "0", env=env),
        run_cli("user", "--market", "options", env=cli_env(BINSTREAM_ENDPOINT=accounts.url)),
        run_cli("user", "--market", "usdm", "--logon", env=env),
    )  # fmt: skip
    assert usdm.code == 0, usdm.stderr
    assert {json.loads(line)["e"] for line in usdm.lines} <= {"ORDER_TRADE_UPDATE",
                                                              "ACCOUNT_UPDATE"}  # fmt: skip
    assert wrong.code == 1 and "-2015" in wrong.stderr and "k" * 40 not in wrong.stderr
    assert no_key.code == 2 and "BINANCE_API_KEY" in no_key.stderr
    assert mixed.code == 2 and "API key only" in mixed.stderr
    for result in (usdm, wrong, no_key, mixed):
        assert DEMO_API_KEY not in result.stderr + result.stdout


# -- margin: listenTokens over the WebSocket API ------------------------------------------


# Renewal is the session's logic over the WS-API, above the transport: one run.
@pytest.mark.transport_independent
async def test_margin_tokens_are_renewed_before_they_expire(accounts: LocalExchange) -> None:
    bm = manager(accounts)
    service = accounts.ws_api
    async with bm.margin_socket(validity_ms=400) as socket:
        async with asyncio.timeout(10):
            while len(service.listen_tokens) < 3:  # two renewals, 0.4 s apart
                message = await socket.recv()
                assert message.get("e") not in ("error", "eventStreamTerminated"), message
        assert socket.state is SocketState.OPEN
    assert service.subscribe_count == 1  # renewals extend the one subscription


# The listenKey session's logic sits above the transport (the account sockets and a
# reconnect run on both).
@pytest.mark.transport_independent
async def test_a_terminated_margin_stream_subscribes_again(accounts: LocalExchange) -> None:
    bm = manager(accounts)
    service = accounts.ws_api
    async with bm.isolated_margin_socket("bnbbtc") as socket:
        await take(socket, 1)
        service.terminate_streams()
        async with asyncio.timeout(10):
            while service.subscribe_count < 2:
                await take(socket, 1)
        await take(socket, 2)
    tokens = list(service.listen_tokens.values())
    assert {symbol for _, symbol, _ in tokens} == {"BNBBTC"}


# The listenKey session's logic sits above the transport (the account sockets and a
# reconnect run on both).
@pytest.mark.transport_independent
async def test_margin_refusals_are_clear(accounts: LocalExchange) -> None:
    async with manager(accounts).isolated_margin_socket("NOPEUSDT") as socket:
        unknown = await asyncio.wait_for(socket.recv(), 10)
    async with manager(accounts, api_key="Nope" + "y" * 60).margin_socket() as socket:
        refused = await asyncio.wait_for(socket.recv(), 10)
    assert unknown["type"] == "BinanceUserStreamError" and "-1121" in unknown["m"]
    assert refused["type"] == "BinanceUserStreamAuthError" and "y" * 60 not in refused["m"]


# The listenKey session's logic sits above the transport (the account sockets and a
# reconnect run on both).
@pytest.mark.transport_independent
async def test_cli_margin_streams(accounts: LocalExchange) -> None:
    env = cli_env(BINSTREAM_ENDPOINT=accounts.url, BINANCE_API_KEY=DEMO_API_KEY)
    cross, isolated, both = await asyncio.gather(
        run_cli("user", "--margin", "--json", "-n", "2", env=env),
        run_cli("user", "--isolated", "BNBBTC", "--json", "-n", "1", env=env),
        run_cli("user", "--margin", "--isolated", "BNBBTC", env=env),
    )
    assert cross.code == 0 and isolated.code == 0, cross.stderr + isolated.stderr
    assert json.loads(cross.lines[0])["e"] in ("executionReport", "outboundAccountPosition",
                                                "balanceUpdate")  # fmt: skip
    assert both.code == 2 and "use one" in both.stderr
