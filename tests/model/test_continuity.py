"""Diff-depth continuity: the checker reports exactly the update ids of the events removed."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from binstream.continuity import DepthContinuity, is_diff_depth

# A stream of events: each covers 1..5 update ids, right after the previous one.
spans = st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=60)


def events(start: int, sizes: list[int]) -> list[tuple[int, int, int]]:
    """(U, u, pu) of consecutive events: pu is the previous event's u."""
    out = []
    previous = start - 1
    for size in sizes:
        first, last = previous + 1, previous + size
        out.append((first, last, previous))
        previous = last
    return out


def expected_gaps(chain: list[tuple[int, int, int]], kept: list[bool]) -> list[tuple[int, int]]:
    """The ids of each run of removed events after the first kept one, merged per run."""
    gaps: list[tuple[int, int]] = []
    started = False
    run: list[tuple[int, int, int]] = []
    for event, keep in zip(chain, kept, strict=True):
        if not keep:
            if started:
                run.append(event)
            continue
        if run:
            gaps.append((run[0][0], run[-1][1]))
            run = []
        started = True
    return gaps


@given(spans, st.data(), st.booleans())
def test_removed_events_are_reported_as_their_update_ids(
    sizes: list[int], data: st.DataObject, futures: bool
) -> None:
    chain = events(1000, sizes)
    kept = data.draw(st.lists(st.booleans(), min_size=len(chain), max_size=len(chain)))
    seen = DepthContinuity()
    found = []
    for (first, last, previous), keep in zip(chain, kept, strict=True):
        if keep:
            gap = seen.check("x@depth", first, last, previous if futures else None)
            if gap is not None:
                found.append(gap)
    assert found == expected_gaps(chain, kept)


@given(spans, st.lists(st.integers(min_value=0, max_value=59), max_size=10))
def test_repeated_or_old_events_are_neither_gaps_nor_progress(
    sizes: list[int], repeats: list[int]
) -> None:
    chain = events(1, sizes)
    seen = DepthContinuity()
    for index, (first, last, _) in enumerate(chain):
        assert seen.check("x@depth", first, last) is None
        for back in repeats:
            if back <= index:
                old = chain[index - back]
                assert seen.check("x@depth", old[0], old[1]) is None
    assert seen.last["x@depth"] == chain[-1][1]


def test_streams_are_independent_and_reset_starts_afresh() -> None:
    seen = DepthContinuity()
    assert seen.check("a@depth", 1, 5) is None
    assert seen.check("b@depth@100ms", 50, 60) is None
    assert seen.check("a@depth", 6, 9) is None
    assert seen.check("b@depth@100ms", 70, 71) == (61, 69)
    seen.reset("a@depth")
    assert seen.check("a@depth", 500, 501) is None  # after a reconnect: no false gap
    seen.reset()
    assert seen.last == {}


def test_which_streams_are_diff_depth() -> None:
    assert is_diff_depth("bnbbtc@depth")
    assert is_diff_depth("bnbbtc@depth@100ms")
    assert is_diff_depth("btcusdt@depth@500ms")
    assert not is_diff_depth("bnbbtc@depth20")
    assert not is_diff_depth("bnbbtc@depth5@100ms")
    assert not is_diff_depth("bnbbtc@trade")
