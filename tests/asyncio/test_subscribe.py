"""Live subscriptions: change what an open socket carries, confirmed by the server."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from binstream import (
    BinanceSocketManager,
    InvalidStreamError,
    SocketOptions,
    StreamError,
    StreamSocket,
    SubscriptionError,
)
from binstream.asyncio.options import ReconnectPolicy
from binstream.server import Faults, LocalExchange

pytestmark = pytest.mark.usefixtures("transport")


def manager(url: str, check_symbols: bool = True) -> BinanceSocketManager:
    policy = ReconnectPolicy(backoff_base=0.02, backoff_cap=0.2)
    options = SocketOptions(user_timeout=5, reconnect=policy, check_symbols=check_symbols)
    return BinanceSocketManager(endpoint=url, options=options)


async def streams_seen(socket: StreamSocket, wanted: set[str], count: int = 1) -> dict[str, int]:
    """Read until each of ``wanted`` delivered ``count`` messages; what every stream sent."""
    seen: dict[str, int] = {}
    async with asyncio.timeout(10):
        while any(seen.get(name, 0) < count for name in wanted):
            message = await socket.recv()
            assert message.get("e") != "error", message
            seen[message["stream"]] = seen.get(message["stream"], 0) + 1
    return seen


async def test_subscribe_and_unsubscribe_are_confirmed_and_visible(
    exchange: LocalExchange,
) -> None:
    async with manager(exchange.url).multiplex_socket(["bnbbtc@trade"]) as ms:
        await ms.subscribe("ethbtc@trade", "NEOBTC@aggTrade")
        assert ms.streams == ("bnbbtc@trade", "ethbtc@trade", "neobtc@aggTrade")
        assert sorted(await ms.list_subscriptions()) == sorted(ms.streams)
        await streams_seen(ms, {"ethbtc@trade", "neobtc@aggTrade"})
        await ms.unsubscribe("bnbbtc@trade")
        assert ms.streams == ("ethbtc@trade", "neobtc@aggTrade")
        for _ in range(len(ms.buffer)):  # received before the confirmation
            await ms.recv()
        # After the confirmation nothing more of it: a few hundred messages of the others.
        seen = await streams_seen(ms, {"ethbtc@trade"}, count=50)
        assert "bnbbtc@trade" not in seen


async def test_bad_names_raise_before_anything_is_sent(exchange: LocalExchange) -> None:
    async with manager(exchange.url).multiplex_socket(["bnbbtc@trade"]) as ms:
        history = len(exchange.control_history)
        with pytest.raises(InvalidStreamError):
            await ms.subscribe("bnb/btc@trade")
        assert len(exchange.control_history) == history
        assert ms.streams == ("bnbbtc@trade",)


async def test_a_refusal_raises_and_the_stream_is_not_kept(exchange: LocalExchange) -> None:
    """Binance refuses a connection's 1025th stream; the local exchange does the same."""
    async with manager(exchange.url).multiplex_socket(["bnbbtc@trade"]) as ms:
        subs = ms._subs(ms._links[0])  # the socket itself never overfills a connection
        await asyncio.wait_for(subs.add([f"s{i}btc@trade" for i in range(1023)]), 10)
        with pytest.raises(SubscriptionError, match="too many streams"):
            await asyncio.wait_for(subs.add(["one@trade", "more@trade"]), 10)
        assert len(ms.streams) == 1024 and "one@trade" not in ms.streams


async def test_a_raw_single_stream_socket_says_where_to_subscribe(exchange: LocalExchange) -> None:
    async with manager(exchange.url).trade_socket("bnbbtc") as ts:
        with pytest.raises(StreamError, match="multiplex_socket"):
            await ts.subscribe("ethbtc@trade")


async def test_a_reconnect_restores_the_set_in_force(exchange: LocalExchange) -> None:
    """Subscribes racing with a drop are neither lost nor doubled."""
    async with manager(exchange.url).multiplex_socket(["bnbbtc@trade"]) as ms:
        await ms.subscribe("ethbtc@trade")
        exchange.faults = Faults(drop_after=20, drop_close_frame=False, times=1)
        burst = [ms.subscribe(f"{s.lower()}@aggTrade") for s in exchange.markets]
        await asyncio.gather(*burst)
        wanted = {"bnbbtc@trade", "ethbtc@trade", *(f"{s.lower()}@aggTrade"
                                                    for s in exchange.markets)}  # fmt: skip
        assert set(ms.streams) == wanted
        assert sorted(await ms.list_subscriptions()) == sorted(wanted)
        await ms.unsubscribe("ethbtc@trade")
        assert sorted(await ms.list_subscriptions()) == sorted(wanted - {"ethbtc@trade"})


# Placing streams on connections happens above the transport: one run.
@pytest.mark.transport_independent
async def test_past_a_connections_limit_another_opens_and_closes_with_its_last_stream(
    exchange: LocalExchange,
) -> None:
    """3,000 streams added one by one: three connections, paced under 5 messages/s."""
    async with manager(exchange.url, check_symbols=False).multiplex_socket(["bnbbtc@trade"]) as ms:
        names = [f"x{i}btc@trade" for i in range(2999)]
        await asyncio.gather(*(ms.subscribe(name) for name in names))
        assert len(ms.streams) == 3000 and len(ms._links) == 3
        assert sorted(len(ms._subs(link).streams) for link in ms._links) == [952, 1024, 1024]
        per_connection: dict[int, list[float]] = {}
        for number, at in exchange.control_history:
            per_connection.setdefault(number, []).append(at)
        for times in per_connection.values():  # never more than 5 in any second
            assert all(
                later - earlier > 1.0 for earlier, later in zip(times, times[5:], strict=False)
            )
        last = ms._links[-1]
        await ms.unsubscribe(*ms._subs(last).streams)
        assert len(ms._links) == 2 and len(ms.streams) == 2048
        assert last.task is not None and last.task.done()


async def test_streams_in_force_survive_a_rotation(exchange: LocalExchange) -> None:
    async with manager(exchange.url).multiplex_socket(["bnbbtc@trade"]) as ms:
        await ms.subscribe("ethbtc@trade")
        exchange.announce_shutdown(grace=0.5)
        await streams_seen(ms, {"ethbtc@trade", "bnbbtc@trade"}, count=30)
        assert sorted(await ms.list_subscriptions()) == ["bnbbtc@trade", "ethbtc@trade"]


async def test_lifecycle_events_say_what_the_socket_does(exchange: LocalExchange) -> None:
    from binstream.events import EventKind

    async with manager(exchange.url).multiplex_socket(["bnbbtc@trade"]) as ms:
        events = ms.events()
        kinds: list[EventKind] = []

        async def until(kind: EventKind) -> Any:
            async with asyncio.timeout(10):
                async for event in events:
                    kinds.append(event.kind)
                    if event.kind is kind:
                        return event

        opened = await until(EventKind.CONNECTED)
        assert opened.url.startswith(exchange.url + "/stream?streams=bnbbtc@trade")
        await until(EventKind.FIRST_MESSAGE)
        await ms.subscribe("ethbtc@trade")
        assert (await until(EventKind.SUBSCRIBED)).streams == ("ethbtc@trade",)
        exchange.drop_all(close_frame=False)
        dropped = await until(EventKind.DISCONNECTED)
        assert dropped.detail == "connection lost (no close frame)"
        retry = await until(EventKind.RECONNECTING)
        assert retry.attempt == 1 and retry.delay > 0
        await until(EventKind.CONNECTED)
        exchange.announce_shutdown(grace=0.5)
        rotated = await until(EventKind.ROTATED)
        assert rotated.detail == "server announced shutdown"
        assert rotated.as_dict()["event"] == "rotated"
    assert kinds[0] is EventKind.CONNECTING


@pytest.mark.transport_independent
def test_the_subscription_state_machine_over_any_sequence() -> None:
    """Pure: whatever callers ask and however the server answers in order, the streams
    wanted are what the server carries once every request was answered."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from binstream.asyncio.subscriptions import Subscriptions

    names = st.sampled_from(["a@trade", "b@trade", "c@trade", "d@trade"])
    step = st.one_of(
        st.tuples(st.just("add"), st.lists(names, min_size=1, max_size=3)),
        st.tuples(st.just("remove"), st.lists(names, min_size=1, max_size=3)),
        st.tuples(st.just("answer"), st.just([])),
        st.tuples(st.just("reconnect"), st.just([])),
    )

    @settings(max_examples=int(os.environ.get("SUBS_EXAMPLES", "300")), deadline=None)
    @given(st.lists(step, max_size=25))
    def check(steps: list[tuple[str, list[str]]]) -> None:
        async def run() -> None:
            subs = Subscriptions(["a@trade"])
            server: set[str] = {"a@trade"}
            subs.opened(["a@trade"])
            waiters = []

            def answer_all() -> None:
                while (request := subs.next_request()) is not None:
                    params = request.get("params", [])
                    if request["method"] == "SUBSCRIBE":
                        server.update(params)
                    elif request["method"] == "UNSUBSCRIBE":
                        server.difference_update(params)
                    subs.reply({"result": None, "id": request["id"]})

            for action, args in steps:
                if action == "add":
                    waiters.append(subs.add(args))
                elif action == "remove":
                    waiters.append(subs.remove(args))
                elif action == "answer":
                    answer_all()
                else:  # the connection drops; the next one carries what is wanted
                    subs.lost()
                    server.clear()
                    server.update(subs.streams)
                    subs.opened(list(subs.streams))
            answer_all()
            assert server == set(subs.streams)
            assert not subs.leaving
            assert all(w.done() and w.exception() is None for w in waiters)

        asyncio.run(run())

    check()
