"""binstream convert: recordings of the local exchange as Parquet tables and Tardis CSV,
read back with DuckDB and checked value by value against the JSON frames."""

from __future__ import annotations

import base64
import csv
import gzip
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from binstream.recording import read_recording
from binstream.sbe import event_stream
from binstream.server import DEMO_API_KEY, Faults, LocalExchange

from ..conftest import FAST, cli_env, run_cli

duckdb = pytest.importorskip("duckdb", reason="duckdb (the test extra) is not installed")
pytest.importorskip("pyarrow", reason="pyarrow (the [parquet] extra) is not installed")

# Files and tables, not the transport: one run.
pytestmark = [pytest.mark.transport_independent, pytest.mark.usefixtures("transport")]

SPOT = ["bnbbtc@trade", "bnbbtc@aggTrade", "bnbbtc@depth@100ms", "bnbbtc@bookTicker",
        "bnbbtc@kline_1s", "bnbbtc@ticker", "bnbbtc@depth5", "bnbbtc@miniTicker"]  # fmt: skip


def events(path: Path) -> list[tuple[float, str, dict[str, Any]]]:
    """(receive time ms, stream, payload) of every message of a combined recording."""
    out = []
    for entry in read_recording(path)[1]:
        if entry.frame is None or entry.snapshot:
            continue
        message = entry.decoded()
        data = message["data"]
        for item in data if isinstance(data, list) else [data]:
            out.append((entry.time_ms, message["stream"], item))
    return out


def query(sql: str) -> list[tuple[Any, ...]]:
    return duckdb.sql(sql).fetchall()


def ms(value: Any) -> int:
    """A DuckDB timestamp back to Binance's milliseconds."""
    return int(value.timestamp() * 1000 + 0.5)


@pytest.fixture
async def gappy() -> Any:
    async with LocalExchange(interval=FAST, seed=9, faults=Faults(gap_every=9)) as ex:
        yield ex


async def test_every_value_in_the_parquet_tables_is_the_one_binance_sent(
    gappy: LocalExchange, tmp_path: Path
) -> None:
    recording = tmp_path / "session.jsonl.zst"
    result = await run_cli("record", *SPOT, "-o", str(recording), "--endpoint", gappy.url,
                           "-n", "400", "-q")  # fmt: skip
    assert result.code == 0, result.stderr
    out = tmp_path / "tables"
    converted = await run_cli("convert", str(recording), "-o", str(out))
    assert converted.code == 0, converted.stderr
    assert "wrote" in converted.stderr and "trades" in converted.stderr
    sent = events(recording)

    def rows(table: str, columns: str) -> list[tuple[Any, ...]]:
        """The table's rows in a canonical order (a batch's rows share a receive time)."""
        return sorted(query(f"select {columns} from "
                            f"read_parquet('{out}/{table}/**/*.parquet')"))  # fmt: skip

    trades = sorted((e for e in sent if e[1] == "bnbbtc@trade"), key=lambda e: e[2]["t"])
    got = rows("trades", "trade_id, market, symbol, price, quantity, buyer_is_maker, "
                         "trade_time, event_time, receive_time")  # fmt: skip
    assert len(got) == len(trades) > 0
    for (t, _, e), row in zip(trades, got, strict=True):
        assert row[:3] == (e["t"], "spot", "BNBBTC")
        assert row[3] == Decimal(e["p"]) and row[4] == Decimal(e["q"])  # exact, not floats
        assert row[5] is e["m"] and ms(row[6]) == e["T"] and ms(row[7]) == e["E"]
        assert int(row[8].timestamp() * 1_000_000 + 0.5) == round(t * 1000)

    depth = [e for e in sent if e[1] == "bnbbtc@depth@100ms"]
    levels = [(e["U"], e["u"], side, p, q) for _, _, e in depth
              for side, key in (("bid", "b"), ("ask", "a")) for p, q in e[key]]  # fmt: skip
    got = rows("depth_updates", "first_update_id, last_update_id, side, price, quantity")
    assert got == sorted((u0, u1, side, Decimal(p), Decimal(q)) for u0, u1, side, p, q in levels)

    gaps = rows("gaps", "stream, reason, first_missing, last_missing")
    assert gaps and all(g[0] == "bnbbtc@depth@100ms" and g[2] <= g[3] for g in gaps)
    snapshots = query(f"select count(distinct last_update_id) from "
                      f"read_parquet('{out}/depth_snapshots/*.parquet')")  # fmt: skip
    assert snapshots[0][0] >= 2

    tickers = [e for e in sent if e[1] == "bnbbtc@bookTicker"]
    got = rows("book_tickers", "update_id, bid_price, bid_quantity, ask_price, ask_quantity")
    assert got == sorted((e["u"], Decimal(e["b"]), Decimal(e["B"]), Decimal(e["a"]),
                          Decimal(e["A"])) for _, _, e in tickers)  # fmt: skip
    klines = [e["k"] for _, s, e in sent if s == "bnbbtc@kline_1s"]
    got = rows("klines", "interval, open, high, low, close, volume, trades, is_closed")
    assert got == sorted(
        (k["i"], Decimal(k["o"]), Decimal(k["h"]), Decimal(k["l"]), Decimal(k["c"]),
         Decimal(k["v"]), k["n"], k["x"]) for k in klines
    )  # fmt: skip
    partial = [e for e in sent if e[1] == "bnbbtc@depth5"]
    count = query(f"select count(*) from read_parquet('{out}/book_snapshots/*.parquet')")
    assert count[0][0] == sum(len(e["bids"]) + len(e["asks"]) for _, _, e in partial)
    for table in ("agg_trades", "tickers", "mini_tickers"):
        assert query(f"select count(*) from read_parquet('{out}/{table}/*.parquet')")[0][0] > 0
    # The queries docs/recording.md shows run as printed.
    vwap = query(f"select time_bucket(interval '1 minute', trade_time) as minute, symbol, "
                 f"sum(price * quantity) / sum(quantity) as vwap from "
                 f"read_parquet('{out}/trades/**/*.parquet') "
                 "group by all order by minute")  # fmt: skip
    assert vwap and all(Decimal("0.0089") < row[2] < Decimal("0.0091") for row in vwap)
    spread = query(f"select time_bucket(interval '1 second', receive_time) as second, symbol, "
                   f"avg(ask_price - bid_price) as spread from "
                   f"read_parquet('{out}/book_tickers/**/*.parquet') group by all")  # fmt: skip
    assert spread and all(row[2] > 0 for row in spread)


async def test_sbe_recordings_convert_with_their_microsecond_times(
    exchange: LocalExchange, tmp_path: Path
) -> None:
    recording = tmp_path / "sbe.jsonl"
    result = await run_cli("record", "bnbbtc@trade", "bnbbtc@bestBidAsk", "bnbbtc@depth20",
                           "bnbbtc@depth", "--sbe", "-o", str(recording), "-n", "120", "-q",
                           env=cli_env(BINANCE_API_KEY=DEMO_API_KEY,
                                       BINSTREAM_ENDPOINT=exchange.url))  # fmt: skip
    assert result.code == 0, result.stderr
    out = tmp_path / "tables"
    converted = await run_cli("convert", str(recording), "-o", str(out))
    assert converted.code == 0, converted.stderr
    sent = [(entry.time_ms, event_stream(event), event)
            for entry in read_recording(recording)[1] for event in entry.events()]  # fmt: skip

    def rows(table: str, columns: str) -> list[tuple[Any, ...]]:
        return sorted(query(f"select {columns} from read_parquet('{out}/{table}/*.parquet')"))

    trades = sorted((e for _, s, e in sent if s == "bnbbtc@trade"), key=lambda e: e["t"])
    got = rows("trades", "trade_id, price, quantity, buyer_is_maker, epoch_us(trade_time), "
                         "epoch_us(event_time)")  # fmt: skip
    assert got == [(e["t"], Decimal(e["p"]), Decimal(e["q"]), e["m"], e["T"], e["E"])
                   for e in trades] and trades  # fmt: skip
    quotes = [e for _, s, e in sent if s == "bnbbtc@bestBidAsk"]
    got = rows("book_tickers", "update_id, bid_price, bid_quantity, ask_price, ask_quantity, "
                               "epoch_us(event_time)")  # fmt: skip
    assert got == sorted((e["u"], Decimal(e["b"]), Decimal(e["B"]), Decimal(e["a"]),
                          Decimal(e["A"]), e["E"]) for e in quotes) and quotes  # fmt: skip
    diffs = [e for _, s, e in sent if s == "bnbbtc@depth"]
    got = rows("depth_updates", "first_update_id, last_update_id, side, price, quantity, "
                                "epoch_us(event_time)")  # fmt: skip
    assert got == sorted(
        (e["U"], e["u"], side, Decimal(p), Decimal(q), e["E"])
        for e in diffs
        for side, key in (("bid", "b"), ("ask", "a"))
        for p, q in e[key]
    )
    tops = [e for _, s, e in sent if s == "bnbbtc@depth20"]
    got = rows("book_snapshots", "last_update_id, side, level, price")
    assert got == sorted((e["lastUpdateId"], side, level, Decimal(p)) for e in tops
                         for side, key in (("bid", "bids"), ("ask", "asks"))
                         for level, (p, _) in enumerate(e[key]))  # fmt: skip
    assert rows("depth_snapshots", "count(*)")[0][0] > 0  # the REST book the diffs start from
    assert not (out / "other_events").exists()  # every SBE event has its table

    tardis = tmp_path / "tardis"
    converted = await run_cli("convert", str(recording), "--to", "tardis-csv", "-o", str(tardis))
    assert converted.code == 0, converted.stderr
    with gzip.open(tardis / "trades" / "sbe.csv.gz", "rt") as handle:
        stamps = [int(row["timestamp"]) for row in csv.DictReader(handle)]
    assert sorted(stamps) == sorted(e["T"] for e in trades)  # microseconds, as Tardis keeps

    # A frame that is not of the schema: one line naming the file and line, exit 2.
    lines = recording.read_text().splitlines(keepends=True)
    number = next(n for n, line in enumerate(lines) if '"b":' in line)
    frame = base64.b64decode(orjson.loads(lines[number])["b"])
    lines[number] = '{"t":1,"b":"' + base64.b64encode(frame[:-3]).decode() + '"}\n'
    corrupt = tmp_path / "corrupt.jsonl"
    corrupt.write_text("".join(lines))
    refused = await run_cli("convert", str(corrupt), "-o", str(tmp_path / "none"))
    assert refused.code == 2 and refused.stderr.count("\n") == 1
    assert f"corrupt.jsonl line {number + 1}: SBE frame cut short" in refused.stderr


async def test_futures_tables_carry_mark_prices_and_liquidations(tmp_path: Path) -> None:
    async with LocalExchange(interval=0.002, seed=3) as exchange:
        recording = tmp_path / "futures.jsonl"
        result = await run_cli(
            "record", "--market", "usdm", "btcusdt@markPrice@1s", "!forceOrder@arr",
            "btcusdt@depth@100ms", "-o", str(recording), "--endpoint",
            exchange.market_url("usdm"), "-n", "60", "-q",
        )  # fmt: skip
        assert result.code == 0, result.stderr
    out = tmp_path / "tables"
    assert (await run_cli("convert", str(recording), "-o", str(out), "-q")).code == 0
    marks = query(f"select market, symbol, mark_price, funding_rate from "
                  f"read_parquet('{out}/mark_prices/*.parquet')")  # fmt: skip
    sent = [e for _, s, e in events(recording) if s == "btcusdt@markPrice@1s"]
    assert sorted(marks) == sorted(("usdm", "BTCUSDT", Decimal(e["p"]), Decimal(e["r"]))
                                   for e in sent)  # fmt: skip
    previous = query(f"select count(*) from read_parquet('{out}/depth_updates/*.parquet') "
                     "where previous_update_id is not null")  # fmt: skip
    assert previous[0][0] > 0  # futures diff depth carries pu


async def test_tardis_csv_has_tardis_columns_and_the_values_sent(
    exchange: LocalExchange, tmp_path: Path
) -> None:
    recording = tmp_path / "s.jsonl"
    result = await run_cli("record", "bnbbtc@trade", "bnbbtc@depth@100ms", "-o", str(recording),
                           "--endpoint", exchange.url, "-n", "150", "-q")  # fmt: skip
    assert result.code == 0, result.stderr
    out = tmp_path / "tardis"
    assert (await run_cli("convert", str(recording), "--to", "tardis-csv", "-o", str(out),
                          "-q")).code == 0  # fmt: skip
    with gzip.open(out / "trades" / "s.csv.gz", "rt") as handle:
        trades = list(csv.DictReader(io.StringIO(handle.read())))
    sent = [(t, e) for t, s, e in events(recording) if s == "bnbbtc@trade"]
    assert list(trades[0]) == ["exchange", "symbol", "timestamp", "local_timestamp", "id",
                               "side", "price", "amount"]  # fmt: skip
    assert [(r["exchange"], r["symbol"], int(r["timestamp"]), int(r["local_timestamp"]),
             int(r["id"]), r["side"], r["price"], r["amount"]) for r in trades] == [
        ("binance", "BNBBTC", e["T"] * 1000, round(t * 1000), e["t"],
         "sell" if e["m"] else "buy", e["p"], e["q"]) for t, e in sent
    ]  # fmt: skip
    with gzip.open(out / "incremental_book_L2" / "s.csv.gz", "rt") as handle:
        book = list(csv.DictReader(io.StringIO(handle.read())))
    assert book[0]["is_snapshot"] == "true"  # a book starts at its snapshot
    assert {r["is_snapshot"] for r in book} == {"true", "false"}
    assert {r["side"] for r in book} == {"bid", "ask"}


async def test_a_cut_recording_converts_up_to_its_last_whole_record(
    exchange: LocalExchange, tmp_path: Path
) -> None:
    recording = tmp_path / "cut.jsonl"
    result = await run_cli("record", "bnbbtc@trade", "-o", str(recording), "--endpoint",
                           exchange.url, "-n", "50", "-q")  # fmt: skip
    assert result.code == 0
    data = recording.read_bytes()
    recording.write_bytes(data[: len(data) - 30])
    out = tmp_path / "tables"
    converted = await run_cli("convert", str(recording), "-o", str(out), "-q")
    assert converted.code == 0 and converted.stderr.count("\n") == 1
    assert "stopped abruptly" in converted.stderr
    whole = sum(1 for e in read_recording(recording)[1] if e.frame is not None)
    assert query(f"select count(*) from '{out}/trades/cut.parquet'")[0][0] == whole
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not a recording\n")
    refused = await run_cli("convert", str(bad), "-o", str(out))
    assert refused.code == 2 and "not a binstream recording" in refused.stderr


async def test_record_converts_each_rotated_segment_as_it_completes(
    exchange: LocalExchange, tmp_path: Path
) -> None:
    recording = tmp_path / "long.jsonl.zst"
    result = await run_cli("record", "bnbbtc@trade", "bnbbtc@depth@100ms", "-o",
                           str(recording), "--endpoint", exchange.url, "--rotate-size",
                           "0.02", "--convert", "parquet", "-n", "300", "-q")  # fmt: skip
    assert result.code == 0, result.stderr
    segments = sorted(tmp_path.glob("long-*.jsonl.zst"))
    assert len(segments) >= 2
    tables = tmp_path / "long-tables"
    assert sorted(p.stem for p in (tables / "trades").glob("*.parquet")) == [
        p.name.split(".")[0] for p in segments if any(
            e.frame and "@trade" in e.frame for e in read_recording(p)[1])
    ]  # fmt: skip
    total = query(f"select count(*) from read_parquet('{tables}/trades/**/*.parquet')")
    sent = sum(1 for p in segments for _, s, _ in events(p) if s == "bnbbtc@trade")
    assert total[0][0] == sent
    # Every segment starts its own book: each holds a snapshot of the depth stream.
    assert all(any(e.snapshot for e in read_recording(p)[1]) for p in segments)
