"""SBE decoding checked with an encoder of the tests' own, written from stream_1_0.xml: the
Python reference and the C decoder give the same dicts and the same errors, whatever the
frame (random events, schema extensions, cut and corrupted frames)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from binstream import sbe

DECODERS = [pytest.param(sbe.decode, id="python"), pytest.param(sbe.fast_decode, id="c")]


def le(value: int, size: int, signed: bool = True) -> bytes:
    return value.to_bytes(size, "little", signed=signed)


def message(
    template: int, root: bytes, body: bytes, extra_root: int = 0, version: int = 0
) -> bytes:
    """Header, root block (grown by ``extra_root`` bytes, as a later version may), body."""
    block = root + bytes(extra_root)
    return le(len(block), 2, False) + le(template, 2, False) + le(1, 2, False) + \
        le(version, 2, False) + block + body  # fmt: skip


def symbol(text: str) -> bytes:
    raw = text.encode()
    return bytes([len(raw)]) + raw


def levels(rows: list[tuple[int, int]], pad: int = 0) -> bytes:
    out = le(16 + pad, 2, False) + le(len(rows), 2, False)
    for price, qty in rows:
        out += le(price, 8) + le(qty, 8) + bytes(pad)
    return out


def decimal(mantissa: int, exponent: int) -> Decimal:
    return Decimal(mantissa).scaleb(exponent)


def same_decimal(text: str, mantissa: int, exponent: int) -> bool:
    places = len(text.partition(".")[2])
    return Decimal(text) == decimal(mantissa, exponent) and places == max(0, -exponent)


i64 = st.integers(-(2**63), 2**63 - 1)
exponents = st.integers(-128, 127)
small_exponents = st.integers(-18, 4)
symbols = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20).filter(
    lambda s: len(s.encode()) < 256
)
pad = st.integers(0, 6)


@given(i64, exponents)
def test_decimal_text_is_exact(mantissa: int, exponent: int) -> None:
    text = sbe.decimal_text(mantissa, exponent)
    assert same_decimal(text, mantissa, exponent)


@given(st.lists(st.tuples(i64, exponents, i64), min_size=1, max_size=8))
def test_both_decoders_write_every_number_alike(numbers: list[tuple[int, int, int]]) -> None:
    """Any mantissa with any exponent the schema's int8 allows, and any int64, in dicts and
    in JSON lines."""
    frames = [message(10001, le(time, 8) + le(~time, 8) + le(exponent, 1) + le(exponent, 1)
                      + le(mantissa, 8) * 4, symbol("BNBBTC"))
              for mantissa, exponent, time in numbers]  # fmt: skip
    events = sbe.fast_decode_batch(frames, False)
    assert events == sbe.decode_batch(frames, False)
    assert [e["b"] for e in events] == [sbe.decimal_text(m, x) for m, x, _ in numbers]
    assert sbe.fast_json_lines(frames, False) == sbe.json_lines(frames, False)


@pytest.mark.parametrize("decode", DECODERS)
@given(
    st.integers(0, 2**62), st.integers(0, 2**62), small_exponents, small_exponents,
    st.lists(st.tuples(i64, i64, i64, st.booleans()), max_size=20), symbols, pad, pad,
)  # fmt: skip
def test_trades_event_is_one_dict_per_trade(
    decode: Any, event_time: int, transact_time: int, pe: int, qe: int,
    trades: list[tuple[int, int, int, bool]], name: str, extra_root: int, extra_entry: int,
) -> None:  # fmt: skip
    body = le(25 + extra_entry, 2, False) + le(len(trades), 4, False)
    for trade_id, price, qty, maker in trades:
        body += le(trade_id, 8) + le(price, 8) + le(qty, 8) + bytes([maker]) + bytes(extra_entry)
    root = le(event_time, 8) + le(transact_time, 8) + le(pe, 1) + le(qe, 1)
    frame = message(10000, root, body + symbol(name), extra_root)
    got = decode(frame)
    assert got == sbe.decode(frame)  # both decoders alike
    assert len(got) == len(trades)
    for out, (trade_id, price, qty, maker) in zip(got, trades, strict=True):
        assert out["e"] == "trade" and out["s"] == name and out["t"] == trade_id
        assert out["E"] == event_time and out["T"] == transact_time
        assert same_decimal(out["p"], price, pe) and same_decimal(out["q"], qty, qe)
        assert out["m"] is maker and out["M"] is True


@pytest.mark.parametrize("decode", DECODERS)
@given(i64, i64, small_exponents, small_exponents, st.tuples(i64, i64, i64, i64), symbols, pad)
def test_best_bid_ask(
    decode: Any, event_time: int, update_id: int, pe: int, qe: int,
    quote: tuple[int, int, int, int], name: str, extra_root: int,
) -> None:  # fmt: skip
    root = le(event_time, 8) + le(update_id, 8) + le(pe, 1) + le(qe, 1)
    root += b"".join(le(v, 8) for v in quote)
    [out] = decode(message(10001, root, symbol(name), extra_root))
    assert (out["e"], out["E"], out["s"], out["u"]) == ("bestBidAsk", event_time, name, update_id)
    for key, value, exponent in zip("bBaA", quote, (pe, qe, pe, qe), strict=True):
        assert same_decimal(out[key], value, exponent)


book_side = st.lists(st.tuples(i64, i64), max_size=25)


@pytest.mark.parametrize("decode", DECODERS)
@given(i64, i64, i64, small_exponents, small_exponents, book_side, book_side, symbols, pad, pad,
       st.booleans())  # fmt: skip
def test_depth_snapshot_and_diff(
    decode: Any, event_time: int, first: int, last: int, pe: int, qe: int,
    bids: list[tuple[int, int]], asks: list[tuple[int, int]], name: str, extra_root: int,
    extra_level: int, diff: bool,
) -> None:  # fmt: skip
    ids = le(first, 8) + le(last, 8) if diff else le(last, 8)
    root = le(event_time, 8) + ids + le(pe, 1) + le(qe, 1)
    body = levels(bids, extra_level) + levels(asks, extra_level) + symbol(name)
    frame = message(10003 if diff else 10002, root, body, extra_root)
    [out] = decode(frame)
    assert decode(frame) == sbe.decode(frame)
    sides = (out["b"], out["a"]) if diff else (out["bids"], out["asks"])
    for got, rows in zip(sides, (bids, asks), strict=True):
        assert len(got) == len(rows)
        for (price_text, qty_text), (price, qty) in zip(got, rows, strict=True):
            assert same_decimal(price_text, price, pe) and same_decimal(qty_text, qty, qe)
    if diff:
        assert (out["e"], out["U"], out["u"]) == ("depthUpdate", first, last)
    else:
        assert (out["e"], out["lastUpdateId"]) == ("depthSnapshot", last)
    assert out["E"] == event_time and out["s"] == name


def outcome(decode: Any, frame: bytes) -> Any:
    try:
        return decode(frame)
    except sbe.SbeError as exc:
        return ("SbeError", str(exc))


def sample_frames() -> list[bytes]:
    trade = le(7, 8) + le(899, 8) + le(1500, 8) + b"\x01"
    return [
        message(10000, le(1, 8) + le(2, 8) + le(-8, 1) + le(-8, 1),
                le(25, 2, False) + le(2, 4, False) + trade + trade + symbol("BNBBTC")),
        message(10001, le(1, 8) + le(2, 8) + le(-8, 1) + le(-8, 1) + bytes(32), symbol("ETHBTC")),
        message(10003, le(1, 8) + le(2, 8) + le(3, 8) + le(-8, 1) + le(-8, 1),
                levels([(1, 2), (3, 4)]) + levels([(5, 6)]) + symbol("BNBBTC")),
    ]  # fmt: skip


@pytest.mark.parametrize("frame", sample_frames(), ids=["trades", "bestBidAsk", "depth"])
def test_cut_frames_fail_cleanly_and_alike(frame: bytes) -> None:
    assert sbe.decode(frame)
    for end in range(len(frame)):
        python, c = outcome(sbe.decode, frame[:end]), outcome(sbe.fast_decode, frame[:end])
        assert python == c
        assert python[0] == "SbeError" and "cut short" in python[1]


def test_other_schemas_and_templates_are_clear_errors() -> None:
    frame = sample_frames()[1]
    other_schema = frame[:4] + le(2, 2, False) + frame[6:]
    unknown = frame[:2] + le(10004, 2, False) + frame[4:]
    newer = frame[:6] + le(1, 2, False) + frame[8:]
    for decode in (sbe.decode, sbe.fast_decode):
        assert outcome(decode, other_schema) == (
            "SbeError",
            "SBE schema 2:0 is not the stream schema 1",
        )
        assert outcome(decode, unknown) == (
            "SbeError",
            "unknown SBE template 10004 (the stream schema has 10000-10003)",
        )
        assert decode(newer) == decode(frame)  # a later version of schema 1 decodes


@given(st.lists(st.sampled_from(sample_frames()), max_size=8), st.booleans(), symbols)
def test_batches_and_json_lines_are_what_decode_and_orjson_give(
    frames: list[bytes], wrap: bool, name: str
) -> None:
    renamed = [frame[: frame.rindex(b"\x06")] + symbol(name) for frame in frames]
    expected = sbe.decode_batch(renamed, wrap)
    assert sbe.fast_decode_batch(renamed, wrap) == expected
    ascii_or_plain = name.isascii() or not wrap  # C lowers ASCII only; others decode instead
    if ascii_or_plain:
        assert sbe.fast_json_lines(renamed, wrap) == sbe.json_lines(renamed, wrap)
    assert sbe.fast_count_events(renamed) == sbe.count_events(renamed) == len(expected)
    if wrap and expected:
        assert expected[0]["stream"].rsplit("@", 1)[0] == name.lower()
    assert sbe.fast_streams_of(renamed) == sbe.streams_of(renamed)
    # Deferred: book frames stay as they are, in their place; decoded later, they give the
    # events the whole batch gave.
    deferred = sbe.decode_batch(renamed, wrap, True)
    assert sbe.fast_decode_batch(renamed, wrap, True) == deferred
    later = [
        e
        for item in deferred
        for e in (sbe.fast_decode_batch([item], wrap) if type(item) is bytes else [item])
    ]
    assert later == expected
    assert all(sbe.decode(item)[0]["e"].startswith("depth") for item in deferred
               if type(item) is bytes)  # fmt: skip


def test_the_c_decoder_keeps_many_decimals_and_symbols_apart() -> None:
    """The C decoder's tables of recent prices and symbols never hand out a wrong one, as
    they fill, evict and are hit."""
    frames = [
        message(10003, le(1, 8) + le(2, 8) + le(3, 8) + le(exponent, 1) + le(-exponent, 1),
                levels([(price, price + 1) for price in range(start, start + 50)])
                + levels([(-start, 0)]) + symbol(f"S{start % 97}Y"))
        for start in range(0, 20_000, 50) for exponent in (-8, -2, 0)
    ]  # fmt: skip
    for _ in range(2):
        assert sbe.fast_decode_batch(frames, True) == sbe.decode_batch(frames, True)


def test_a_bad_frame_in_a_batch_is_an_error_for_the_batch() -> None:
    good, cut = sample_frames()[0], sample_frames()[2][:-3]
    for batch in (sbe.decode_batch, sbe.fast_decode_batch, sbe.json_lines, sbe.fast_json_lines):
        with pytest.raises(sbe.SbeError):
            batch([good, cut], False)
    for count in (sbe.count_events, sbe.fast_count_events, sbe.streams_of, sbe.fast_streams_of):
        with pytest.raises(sbe.SbeError):
            count([good, cut])


@given(
    st.sampled_from(sample_frames()),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=6),
)
def test_corrupted_frames_decode_alike_or_fail_alike_in_every_c_function(
    frame: bytes, flips: list[tuple[int, int]]
) -> None:
    data = bytearray(frame)
    for index, value in flips:
        data[index % len(data)] = value
    expected = outcome(sbe.decode, bytes(data))
    assert outcome(sbe.fast_decode, bytes(data)) == expected  # the same dicts or error
    for batch in (sbe.fast_count_events, sbe.fast_streams_of,
                  lambda f: sbe.fast_json_lines(f, False),
                  lambda f: sbe.fast_decode_batch(f, False, True)):  # fmt: skip
        got = outcome(batch, [bytes(data)])
        failed = isinstance(expected, tuple) and expected[0] == "SbeError"
        assert got == expected if failed else not isinstance(got, tuple)
