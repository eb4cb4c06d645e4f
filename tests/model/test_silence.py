"""The silence watch as a pure state machine: paces from Binance's docs, each silence said
once, nobody accused while heard within their threshold."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from binstream.silence import SHORTEST_SILENCE, SilenceWatch, pace_of, silence_threshold


def test_paces_follow_binance_docs() -> None:
    assert pace_of("bnbbtc@depth20", "spot") == 1.0
    assert pace_of("bnbbtc@depth@100ms", "spot") == 0.1
    assert pace_of("btcusdt@depth", "usdm") == 0.25
    assert pace_of("bnbbtc@kline_1m", "spot") == 2.0
    assert pace_of("btcusdt@kline_1m", "usdm") == 0.25
    assert pace_of("!miniTicker@arr", "spot") == 1.0
    assert pace_of("btcusdt@markPrice@1s", "usdm") == 1.0
    assert pace_of("btc@optionOpenInterest@261225", "options") == 60.0
    for quiet in ("bnbbtc@trade", "bnbbtc@aggTrade", "bnbbtc@bookTicker", "!forceOrder@arr"):
        assert pace_of(quiet, "spot") is None and silence_threshold(quiet, "spot", None) is None
    assert silence_threshold("bnbbtc@trade", "spot", 30.0) == 30.0
    assert silence_threshold("bnbbtc@depth@100ms", "spot", 30.0) == SHORTEST_SILENCE


#: Events: ("hear", stream index, seconds later) or ("tick", seconds later).
events = st.lists(
    st.one_of(
        st.tuples(st.just("hear"), st.integers(0, 2), st.floats(0, 5)),
        st.tuples(st.just("tick"), st.just(0), st.floats(0, 5)),
    ),
    max_size=60,
)


@given(events)
def test_each_silence_is_said_once_and_only_after_the_threshold(
    steps: list[tuple[str, int, float]],
) -> None:
    names = ["a@depth", "b@depth", "c@trade"]
    limits = {"a@depth": 3.0, "b@depth": 4.0, "c@trade": None}
    watch = SilenceWatch(limits.get)
    now = 0.0
    watch.watch(names, now)
    last_heard = dict.fromkeys(names, 0.0)
    said_since_heard: set[str] = set()
    for kind, index, later in steps:
        now += later
        if kind == "hear":
            watch.heard([names[index]], now)
            last_heard[names[index]] = now
            said_since_heard.discard(names[index])
            continue
        for name in watch.due(now):
            limit = limits[name]
            assert limit is not None and now - last_heard[name] >= limit
            assert name not in said_since_heard
            said_since_heard.add(name)
        assert set(watch.silent()) == said_since_heard
        assert "c@trade" not in said_since_heard  # without a threshold, never silent
        assert not watch.all_silent()  # c@trade is not watched: never all silent


def test_subscription_changes_are_followed() -> None:
    watch = SilenceWatch(lambda name: 3.0)
    watch.watch(["a@depth"], 0.0)
    watch.keep_only(["b@depth"], 2.0)
    assert watch.due(4.0) == [] and watch.due(5.0) == ["b@depth"]
