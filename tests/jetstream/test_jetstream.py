"""``binstream publish`` and ``consume`` against a real nats-server with JetStream on
loopback: every message stored once, through reconnects, redundant publishers, NATS
outages and (opt-in, ``-m cluster``) a three-node cluster losing its stream leader."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from binstream import BinanceSocketManager
from binstream.jetstream.publisher import GAP_HEADER, JetStreamSink
from binstream.jetstream.streamconfig import StreamSettings
from binstream.server import DEMO_API_KEY, Faults, LocalExchange

from ..conftest import FAST, cli_env, run_cli, spawn
from ..natsserver import NatsCluster, NatsServer, wait_for

nats = pytest.importorskip("nats", reason="the [nats] extra (nats-py) is not installed")

# Publishing does not depend on the websocket library: each case runs once.
pytestmark = pytest.mark.transport_independent


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "nats")
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def exchange() -> AsyncIterator[LocalExchange]:
    async with LocalExchange(interval=FAST, seed=11) as ex:
        yield ex


async def stored(url: str, subject: str = "binance.>", stream: str = "BINANCE") -> list[Any]:
    """Every message the stream holds on ``subject``, in order."""
    client = await nats.connect(url.split(","))
    try:
        js = client.jetstream()
        held = (await js.stream_info(stream)).state.messages
        subscription = await js.subscribe(subject, stream=stream, ordered_consumer=True,
                                          deliver_policy=nats.js.api.DeliverPolicy.ALL)  # fmt: skip
        messages = []
        while True:
            try:
                msg = await subscription.next_msg(timeout=1.0)
            except nats.errors.TimeoutError:
                break
            messages.append(msg)
            if msg.metadata.num_pending == 0 or len(messages) >= held:
                break
        return messages
    finally:
        await client.close()


def trade_ids(messages: list[Any]) -> list[int]:
    return [orjson.loads(m.data)["t"] for m in messages if not (m.headers or {}).get(GAP_HEADER)]


def assert_exactly_once(ids: list[int]) -> None:
    assert ids, "nothing stored"
    assert len(ids) == len(set(ids)), "a message was stored twice"
    assert sorted(ids) == list(range(min(ids), max(ids) + 1)), "a message is missing"


async def test_publish_then_consume_prints_what_a_live_tail_prints(
    exchange: LocalExchange, nats_server: NatsServer
) -> None:
    published = await run_cli("publish", "bnbbtc@trade", "ethbtc@depth@100ms", "--endpoint",
                              exchange.url, "--to", nats_server.url, "-n", "150")  # fmt: skip
    assert published.code == 0, published.stderr
    assert "JetStream stream BINANCE (created)" in published.stderr

    everything = await run_cli("consume", nats_server.url, "--from-start", "--stop-at-end")
    assert everything.code == 0, everything.stderr
    lines = [orjson.loads(line) for line in everything.lines]
    assert len(lines) == 150
    assert {line["stream"] for line in lines} == {"bnbbtc@trade", "ethbtc@depth@100ms"}
    assert all(line["market"] == "spot" and "e" in line["data"] for line in lines)

    trades = await run_cli("consume", nats_server.url, "--subject", "binance.spot.bnbbtc.trade",
                           "--from-start", "--stop-at-end")  # fmt: skip
    assert trades.code == 0, trades.stderr
    payloads = [orjson.loads(line) for line in trades.lines]
    assert payloads and all(p["e"] == "trade" for p in payloads)  # bare, as a raw stream
    assert_exactly_once([p["t"] for p in payloads])

    # Publishing the same stream again joins the stream that is there.
    again = await run_cli("publish", "bnbbtc@trade", "--endpoint", exchange.url, "--to",
                          nats_server.url, "-n", "5", "-q")  # fmt: skip
    assert again.code == 0, again.stderr


async def test_publish_sbe_stores_each_event_once_apart_from_the_json_streams(
    exchange: LocalExchange, nats_server: NatsServer
) -> None:
    env = cli_env(BINANCE_API_KEY=DEMO_API_KEY, BINSTREAM_ENDPOINT=exchange.url)
    args = ["publish", "bnbbtc@trade", "bnbbtc@bestBidAsk", "bnbbtc@depth", "--sbe", "--to",
            nats_server.url]  # fmt: skip
    # Two publishers at once, as on two hosts: what both saw is stored once.
    published, again = await asyncio.gather(run_cli(*args, "-n", "120", env=env),
                                            run_cli(*args, "-n", "60", "-q", env=env))  # fmt: skip
    assert published.code == 0, published.stderr
    assert again.code == 0, again.stderr
    lines = await run_cli("consume", nats_server.url, "--subject", "binance.sbe.>",
                          "--from-start", "--stop-at-end")  # fmt: skip
    assert lines.code == 0, lines.stderr
    events = [orjson.loads(line) for line in lines.lines]
    assert {e["stream"] for e in events} == {"bnbbtc@trade", "bnbbtc@bestBidAsk", "bnbbtc@depth"}
    assert all(e["data"]["E"] > 10**15 for e in events)  # SBE's microseconds
    assert_exactly_once([e["data"]["t"] for e in events if e["stream"] == "bnbbtc@trade"])
    diffs = [e["data"] for e in events if e["stream"] == "bnbbtc@depth"]
    assert len({d["u"] for d in diffs}) == len(diffs)  # each diff once
    json_side = await run_cli("consume", nats_server.url, "--subject", "binance.spot.>",
                              "--from-start", "--stop-at-end")  # fmt: skip
    assert json_side.code == 0 and json_side.lines == []


@pytest.fixture(params=["one server", pytest.param("cluster", marks=pytest.mark.cluster)])
def nats_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A JetStream server's URL(s) and the replicas to ask for: one server, or (opt-in) a
    three-node cluster with three replicas."""
    target: NatsServer | NatsCluster
    if request.param == "cluster":
        target = NatsCluster(tmp_path / "cluster")
    else:
        target = NatsServer(tmp_path / "nats")
    target.start()
    yield target.url, 3 if request.param == "cluster" else 1
    target.stop()


async def test_two_publishers_one_killed_store_every_trade_once(
    exchange: LocalExchange, nats_target: tuple[str, int]
) -> None:
    """Redundancy: both publish the same stream; one dies mid-run; the log holds each trade
    exactly once, with nothing missing across the moment it died."""
    url, replicas = nats_target
    args = [sys.executable, "-m", "binstream", "publish", "bnbbtc@trade", "--endpoint",
            exchange.url, "--to", url, "--errors", "json", "--replicas", str(replicas)]  # fmt: skip
    doomed = await spawn(*args, env=cli_env(),
                                                  stdout=asyncio.subprocess.DEVNULL,
                                                  stderr=asyncio.subprocess.PIPE)  # fmt: skip
    assert doomed.stderr is not None
    line = await asyncio.wait_for(doomed.stderr.readline(), 30)
    assert b"publishing" in line
    survivor = asyncio.create_task(run_cli(*args[3:], "-n", "250", timeout=40))
    await wait_for(lambda: len(exchange.clients) >= 2, what="both publishers connected")
    client = await nats.connect(url.split(","))
    try:
        js = client.jetstream()

        async def held() -> int:
            return int((await js.stream_info("BINANCE")).state.messages)

        base = await held()
        while await held() < base + 40:  # both running, side by side
            await asyncio.sleep(0.05)
    finally:
        await client.close()
    doomed.send_signal(signal.SIGKILL)
    await doomed.wait()
    result = await survivor
    assert result.code == 0, result.stderr
    assert_exactly_once(trade_ids(await stored(url)))


async def test_nats_outage_under_block_loses_nothing_and_holds_a_bounded_buffer(
    exchange: LocalExchange, nats_server: NatsServer
) -> None:
    manager = BinanceSocketManager(endpoint=exchange.url, user_timeout=10)
    notices: list[dict[str, Any]] = []
    sink = JetStreamSink(nats_server.url, buffer=200, in_flight=50, ack_timeout=0.5,
                         on_notice=lambda text, event: notices.append(event))  # fmt: skip
    peak = 0
    async with sink, manager.multiplex_socket(["bnbbtc@trade"]) as socket:
        pump = asyncio.create_task(sink.pump(socket, count=400))

        def watch() -> bool:
            nonlocal peak
            peak = max(peak, sink.window.pending)
            return sink.stats.stored >= 100

        await wait_for(watch, what="a first hundred stored")
        nats_server.stop()
        await wait_for(lambda: watch() and not sink.connected, what="the loss noticed")
        await wait_for(lambda: watch() and sink.window.pending >= 200, what="the buffer full")
        nats_server.start()
        await asyncio.wait_for(pump, 30)
        peak = max(peak, sink.window.pending)
    assert sink.unacknowledged_at_close == 0
    assert peak <= 200 + 4096  # the buffer, and at most one batch offered before waiting
    assert [e["status"] for e in notices if e.get("status", "").startswith("nats_")] == [
        "nats_disconnected", "nats_reconnected"]  # fmt: skip
    assert_exactly_once(trade_ids(await stored(nats_server.url)))


async def test_nats_outage_under_drop_counts_and_marks_the_gap(
    exchange: LocalExchange, nats_server: NatsServer
) -> None:
    manager = BinanceSocketManager(endpoint=exchange.url, user_timeout=10)
    sink = JetStreamSink(nats_server.url, buffer=100, in_flight=50, ack_timeout=0.5,
                         overflow="drop")  # fmt: skip
    async with sink, manager.multiplex_socket(["bnbbtc@trade"]) as socket:
        pump = asyncio.create_task(sink.pump(socket))
        await wait_for(lambda: sink.stats.stored >= 50, what="a first fifty stored")
        # Stopped, not killed: a killed nats-server may lose what it had acknowledged but
        # not yet written to its files, and the count below needs the first fifty kept.
        nats_server.stop(signal.SIGTERM)
        await wait_for(lambda: sink.stats.dropped >= 100, what="drops while NATS is away")
        nats_server.start()
        await wait_for(lambda: sink.connected and sink.stats.gaps >= 1, what="the gap marker")
        after = sink.stats.stored
        await wait_for(lambda: sink.stats.stored >= after + 30, what="more stored after it")
        pump.cancel()
        await wait_for(lambda: sink.window.pending == 0, what="the last acknowledgements")
    messages = await stored(nats_server.url)
    gaps = [m for m in messages if (m.headers or {}).get(GAP_HEADER)]
    assert len(gaps) == 1 and "messages not published" in gaps[0].headers[GAP_HEADER]
    ids = trade_ids(messages)
    assert len(ids) == len(set(ids))  # still never twice
    missing = max(ids) - min(ids) + 1 - len(ids)
    assert missing == sink.stats.dropped  # what is missing is exactly what was counted


async def test_a_lost_binance_connection_is_a_gap_marker_consumers_see(
    exchange: LocalExchange, nats_server: NatsServer
) -> None:
    exchange.faults = Faults(drop_after=40, times=1)
    published = await run_cli("publish", "bnbbtc@trade", "--endpoint", exchange.url, "--to",
                              nats_server.url, "-n", "100")  # fmt: skip
    assert published.code == 0, published.stderr
    consumed = await run_cli("consume", nats_server.url, "--from-start", "--stop-at-end",
                             "--errors", "json")  # fmt: skip
    assert consumed.code == 0, consumed.stderr
    assert len(consumed.lines) == 100
    gaps = [orjson.loads(line) for line in consumed.stderr.splitlines() if '"gap"' in line]
    assert len(gaps) == 1 and "bnbbtc@trade" in gaps[0]["m"]


async def test_shards_split_a_set_with_no_overlap(
    exchange: LocalExchange, nats_server: NatsServer
) -> None:
    names = ["bnbbtc@trade", "ethbtc@trade", "bnbbtc@aggTrade", "ethbtc@aggTrade",
             "bnbbtc@bookTicker", "ethbtc@bookTicker"]  # fmt: skip
    runs = await asyncio.gather(*(
        run_cli("publish", *names, "--shard", f"{i}/2", "--endpoint", exchange.url, "--to",
                nats_server.url, "-n", "60", "-q")
        for i in (1, 2)
    ))  # fmt: skip
    assert [r.code for r in runs] == [0, 0], [r.stderr for r in runs]
    by_stream = {m.headers["Binstream-Stream"] for m in await stored(nats_server.url)}
    assert by_stream <= set(names) and len(by_stream) >= 4


async def test_bad_nats_input_is_one_line_and_an_exit_code(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    plain = NatsServer(tmp_path / "plain", jetstream=False, name="plain")
    guarded = NatsServer(tmp_path / "guarded", name="guarded", extra=["--user", "u", "--pass", "p"])
    plain.start()
    guarded.start()
    try:
        created = await run_cli("publish", "bnbbtc@trade", "--to", nats_server.url, "-n", "1",
                                "--max-age", "1h", "--endpoint", "ws://127.0.0.1:1", "--retries",
                                "0", "-q")  # fmt: skip
        cases = {
            ("--to", "bogus://x"): (2, "is not a NATS server URL"),
            ("--to", f"nats://127.0.0.1:{plain.port + 1}"): (1, "cannot connect to NATS"),
            ("--to", plain.url): (1, "has no JetStream"),
            ("--to", guarded.url): (2, "wants credentials"),
            ("--to", guarded.url.replace("//", "//u:wrong@")): (2, "refused the credentials"),
            ("--to", nats_server.url, "--max-age", "2h"): (2, "max age is 1h, not 2h"),
            ("--to", nats_server.url, "--shard", "3/2"): (2, "i runs from 1 to 2"),
        }
        results = await asyncio.gather(
            *(run_cli("publish", "bnbbtc@trade", *args, "-n", "1") for args in cases)
        )
        for (args, (code, text)), result in zip(cases.items(), results, strict=True):
            assert (result.code, len(result.stderr.splitlines())) == (code, 1), (args, result)
            assert text in result.stderr and "Traceback" not in result.stderr
            assert "wrong" not in result.stderr  # no password in what is said
        assert created.code == 1  # the stream was made; the Binance side then failed
        result = await run_cli("consume", plain.url, "--from-start")
        assert (result.code, "has no JetStream" in result.stderr) == (1, True)
    finally:
        plain.stop()
        guarded.stop()


@pytest.mark.cluster
async def test_cluster_leader_killed_mid_publish_loses_nothing(
    exchange: LocalExchange, tmp_path: Path
) -> None:
    cluster = NatsCluster(tmp_path / "cluster")
    cluster.start()
    try:
        manager = BinanceSocketManager(endpoint=exchange.url, user_timeout=10)
        sink = JetStreamSink(cluster.url, settings=StreamSettings(replicas=3), ack_timeout=0.5)
        sink.options.connect_timeout = 10
        async with sink, manager.multiplex_socket(["bnbbtc@trade"]) as socket:
            pump = asyncio.create_task(sink.pump(socket, count=1500))
            await wait_for(lambda: sink.stats.stored >= 300, what="a first 300 stored")
            client = await nats.connect(cluster.url.split(","))
            leader = (await client.jetstream().stream_info("BINANCE")).cluster.leader
            await client.close()
            cluster.node(leader).stop()
            await asyncio.wait_for(pump, 60)
        assert sink.unacknowledged_at_close == 0
        survivors = ",".join(n.url for n in cluster.nodes if n.name != leader)
        assert_exactly_once(trade_ids(await stored(survivors)))
    finally:
        cluster.stop()


async def test_sigterm_stops_publish_with_its_closing_counts(
    exchange: LocalExchange, nats_server: NatsServer
) -> None:
    """docker stop / systemctl stop: publishes already sent are acknowledged, the counts
    are said, exit 143; what was acknowledged is in the log."""
    proc = await spawn(
        sys.executable, "-m", "binstream", "publish", "bnbbtc@trade", "--endpoint",
        exchange.url, "--to", nats_server.url, "--errors", "json", env=cli_env(),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    assert b"publishing" in await asyncio.wait_for(proc.stderr.readline(), 30)
    client = await nats.connect(nats_server.url)
    try:
        js = client.jetstream()

        async def held() -> int:
            return int((await js.stream_info("BINANCE")).state.messages)

        while await held() < 30:
            await asyncio.sleep(0.05)
    finally:
        await client.close()
    proc.send_signal(signal.SIGTERM)
    err = (await asyncio.wait_for(proc.stderr.read(), 15)).decode()
    await asyncio.wait_for(proc.wait(), 5)
    assert proc.returncode == 143, err
    events = [orjson.loads(line) for line in err.splitlines()]
    counts = next(e for e in events if e.get("status") == "published")
    assert events[-1] == {"e": "status", "status": "stopped", "signal": "SIGTERM"}
    assert counts["stored"] >= 30
    assert_exactly_once(trade_ids(await stored(nats_server.url)))
    assert len(trade_ids(await stored(nats_server.url))) == counts["stored"] + counts["duplicates"]


async def test_publish_and_consume_serve_their_counts_as_metrics(
    exchange: LocalExchange, nats_server: NatsServer
) -> None:
    from ..cli.test_metrics import running, until, value

    async with running("publish", "bnbbtc@trade", "--endpoint", exchange.url, "--to",
                       nats_server.url) as url:  # fmt: skip
        samples = await until(
            url, lambda s: value(s, "binstream_publish_acknowledged_total", outcome="stored") > 5
        )
    assert value(samples, "binstream_publish_pending") >= 0
    assert value(samples, "binstream_messages_total", stream="bnbbtc@trade") > 5
    async with running("consume", nats_server.url, "--from-start") as url:
        samples = await until(url, lambda s: value(s, "binstream_consumed_messages_total") > 5)
