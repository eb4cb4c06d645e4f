"""The pure parts of publishing into JetStream: shards, subjects, message ids and the
acknowledgement window, as property tests (no NATS, no network)."""

from __future__ import annotations

import doctest
import importlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from binstream.jetstream import message_id, parse_shard, stream_subject
from binstream.jetstream.durations import parse_duration
from binstream.jetstream.frames import split_message
from binstream.jetstream.shards import Shard
from binstream.jetstream.window import AckWindow

pytestmark = pytest.mark.transport_independent

symbols = st.from_regex(r"[a-z]{2,8}(usdt|btc)", fullmatch=True)
kinds = st.sampled_from(["trade", "aggTrade", "depth", "depth@100ms", "depth20@100ms",
                         "kline_1m", "bookTicker", "ticker", "markPrice@1s"])  # fmt: skip
stream_names = st.builds(lambda s, k: f"{s}@{k}", symbols, kinds)


@given(st.sets(stream_names, min_size=1, max_size=40), st.integers(1, 8))
def test_shards_partition_any_stream_set(streams: set[str], count: int) -> None:
    shards = [Shard(i, count).select(sorted(streams)) for i in range(1, count + 1)]
    taken = [s for shard in shards for s in shard]
    assert sorted(taken) == sorted(streams)  # the union is the whole set, no overlap
    # The same shard, whatever order the streams are given in.
    assert Shard(1, count).select(sorted(streams, reverse=True)) == shards[0][::-1]


@pytest.mark.parametrize("text", ["1", "0/2", "3/2", "a/b", "1/0", "/"])
def test_bad_shards_say_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match=r"i/N|runs from 1"):
        parse_shard(text)


_TOKEN = re.compile(r"^[^.\s*>]+$")


@given(st.sampled_from(["spot", "usdm", "coinm", "options"]), stream_names | st.sampled_from(
    ["!ticker@arr", "!miniTicker@arr", "!markPrice@arr@1s", "!forceOrder@arr", "!bookTicker",
     "btcusdt@kline_1m@+08:00", "BTC-261225-100000-C@optionTrade"]))  # fmt: skip
def test_subjects_have_four_plain_tokens_under_the_prefix(market: str, stream: str) -> None:
    tokens = stream_subject(market, stream).split(".")
    assert len(tokens) == 4 and tokens[:2] == ["binance", market]
    assert all(_TOKEN.match(token) for token in tokens)


def test_all_market_streams_have_the_symbol_all() -> None:
    assert stream_subject("spot", "!ticker@arr") == "binance.spot.all.ticker_arr"
    assert stream_subject("usdm", "!bookTicker") == "binance.usdm.all.bookTicker"


payloads = st.one_of(
    st.builds(lambda t: {"e": "trade", "E": 1, "t": t}, st.integers(0, 10**12)),
    st.builds(lambda a: {"e": "aggTrade", "E": 1, "a": a}, st.integers(0, 10**12)),
    st.builds(lambda u: {"e": "depthUpdate", "E": 1, "U": u, "u": u + 3}, st.integers(0, 10**12)),
    st.builds(lambda u: {"lastUpdateId": u, "bids": [], "asks": []}, st.integers(0, 10**12)),
    st.builds(lambda u: {"u": u, "s": "BNBBTC", "b": "1"}, st.integers(0, 10**12)),
    st.builds(lambda e: {"e": "24hrTicker", "E": e}, st.integers(0, 10**12)),
)


@given(st.lists(payloads, min_size=2, max_size=30, unique_by=lambda p: str(sorted(p.items()))))
def test_ids_are_deterministic_and_tell_different_events_apart(items: list[dict]) -> None:
    subject = "binance.spot.bnbbtc.x"
    ids = [message_id(subject, p, b"") for p in items]
    assert ids == [message_id(subject, dict(p), b"") for p in items]  # any publisher, same id
    distinct = {str(sorted(p.items())) for p in items}
    assert len(set(ids)) == len(distinct)
    assert message_id("binance.usdm.bnbbtc.x", items[0], b"") != ids[0]  # the market counts


def test_sbe_events_are_named_by_binance_ids() -> None:
    subject = "binance.sbe.bnbbtc.x"
    quote = {"e": "bestBidAsk", "E": 1_700_000_000_123_456, "u": 77, "b": "1"}
    assert message_id(subject, quote, b"") == f"{subject}:u77"
    top = {"e": "depthSnapshot", "E": 1, "lastUpdateId": 9, "bids": [], "asks": []}
    assert message_id(subject, top, b"") == f"{subject}:L9"


def test_a_payload_without_ids_is_named_by_its_bytes() -> None:
    first = message_id("s", {"x": 1}, b'{"x":1}')
    assert first == message_id("s", {"x": 1}, b'{"x":1}')
    assert first != message_id("s", {"x": 2}, b'{"x":2}')


def test_frames_are_sliced_byte_for_byte() -> None:
    frame = '{"stream":"bnbbtc@trade","data":{"e":"trade","p":"0.00100000","t":1}}'
    assert split_message(frame)[2] == b'{"e":"trade","p":"0.00100000","t":1}'
    with pytest.raises(ValueError):
        split_message('{"e":"trade"}')


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("10m", 600), ("24h", 86400), ("7d", 604800), ("0", 0), ("250ms", 0.25)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "module", ["subjects", "shards", "identity", "window", "frames", "durations", "connect",
               "streamconfig"])  # fmt: skip
def test_examples_in_docstrings_hold(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"binstream.jetstream.{module}"))
    assert result.failed == 0 and result.attempted > 0


class WindowMachine(RuleBasedStateMachine):
    """Offer, send, acknowledge, time out, reconnect in any order: every message offered
    is either dropped (counted) or held until acknowledged, in order, within the bounds."""

    def __init__(self) -> None:
        super().__init__()
        self.window: AckWindow[int] = AckWindow(capacity=8, in_flight=3, ack_timeout=1.0)
        self.now = 0.0
        self.offered = 0
        self.accepted: list[int] = []
        self.sent_once: list[int] = []
        self.acked: set[int] = set()
        self.seq_of: dict[int, int] = {}

    @rule()
    def offer(self) -> None:
        self.offered += 1
        if self.window.offer(self.offered):
            self.accepted.append(self.offered)

    @rule()
    def send(self) -> None:
        for seq, item in self.window.sendable(self.now):
            assert item not in self.seq_of  # a new message is sent once; repeats go through overdue
            self.seq_of[item] = seq
            self.sent_once.append(item)

    @precondition(lambda self: self.seq_of.keys() - self.acked)
    @rule(data=st.data())
    def acknowledge(self, data: st.DataObject) -> None:
        item = data.draw(st.sampled_from(sorted(self.seq_of.keys() - self.acked)))
        assert self.window.acknowledge(self.seq_of[item])
        self.acked.add(item)
        assert not self.window.acknowledge(self.seq_of[item])  # twice is a no-op

    @rule(seconds=st.floats(0.1, 2.0))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds
        for _, item in self.window.overdue(self.now):
            assert item not in self.acked

    @rule()
    def reconnect(self) -> None:
        again = [item for _, item in self.window.unacknowledged_items(self.now)]
        assert again == sorted(again)  # oldest first
        assert set(again) == self.seq_of.keys() - self.acked

    @invariant()
    def bounded_and_accounted(self) -> None:
        assert self.window.pending <= self.window.capacity
        assert self.window.unacknowledged <= self.window.in_flight
        assert self.window.dropped == self.offered - len(self.accepted)
        assert self.window.pending == len(self.accepted) - len(self.acked)
        assert self.sent_once == self.accepted[: len(self.sent_once)]  # sent in order


TestWindow = WindowMachine.TestCase
TestWindow.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
