"""Tables in Tardis' normalised CSV format, so tools that load Tardis data load captures.

Two datasets, gzip CSV, timestamps in microseconds since the epoch, prices and amounts
as the decimal strings Binance sent:

- ``trades``: ``exchange,symbol,timestamp,local_timestamp,id,side,price,amount`` (the
  trade stream's trades; a recording without one gives its aggregated trades); ``side``
  is the taker's, ``timestamp`` the trade time;
- ``incremental_book_L2``: ``exchange,symbol,timestamp,local_timestamp,is_snapshot,side,
  price,amount``: the REST snapshots a recording holds (``is_snapshot`` true, the whole
  book) and every level change of the diff-depth streams after them, in the order they
  were received; level changes before a symbol's first snapshot are left out.

``exchange`` is ``binance`` (spot), ``binance-futures`` (USD-M), ``binance-delivery``
(COIN-M) or ``binance-european-options``. Files go to ``OUTDIR/<dataset>/<recording
name>.csv.gz`` and are renamed into place once complete.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import IO, Any

from ..recording import Header
from ..tables import expanded
from .files import PartialFiles

EXCHANGES = {"spot": "binance", "usdm": "binance-futures", "coinm": "binance-delivery",
             "options": "binance-european-options"}  # fmt: skip
HEADERS = {
    "trades": "exchange,symbol,timestamp,local_timestamp,id,side,price,amount",
    "incremental_book_L2": "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,"
    "amount",
}


class TardisTables:
    """One recording's Tardis datasets, written as batches come."""

    def __init__(self, outdir: Path, name: str, header: Header) -> None:
        self.outdir = outdir
        self.name = name
        self.exchange = EXCHANGES.get(header.market, "binance")
        self._snapshotted: set[str] = set()
        self.use_agg = not any(stream.endswith("@trade") for stream in header.streams)
        #: Microseconds in an exchange time: SBE recordings' are microseconds already.
        self.scale = 1 if header.sbe else 1000
        self.output = PartialFiles()
        self.rows: dict[str, int] = {}

    def _file(self, dataset: str) -> IO[str]:
        entry = self.output.open.get(dataset)
        if entry is None:
            partial, final = PartialFiles.paths(self.outdir, dataset, f"{self.name}.csv.gz")
            # Closed by close() or abort(), once the dataset is complete or dropped.
            handle = gzip.open(partial, "wt", compresslevel=6, encoding="utf-8", newline="")  # noqa: SIM115
            handle.write(HEADERS[dataset] + "\n")
            entry = (handle, partial, final)
            self.output.open[dataset] = entry
        return entry[0]  # type: ignore[return-value]

    def write_batch(self, tables: dict[str, dict[str, list[Any]]]) -> None:
        """Write the rows of the tables Tardis has datasets for."""
        trades = tables.get("agg_trades" if self.use_agg else "trades")
        if trades is not None and trades["market"]:
            ids = trades["agg_trade_id" if self.use_agg else "trade_id"]
            lines = [
                f"{self.exchange},{symbol},{(when or event) * self.scale},{local},{id_},"
                f"{'sell' if maker else 'buy'},{price},{quantity}\n"
                for symbol, when, event, local, id_, maker, price, quantity in zip(
                    trades["symbol"], trades["trade_time"], trades["event_time"],
                    trades["receive_time"], ids, trades["buyer_is_maker"], trades["price"],
                    trades["quantity"], strict=True,
                )
            ]  # fmt: skip
            self._file("trades").writelines(lines)
            self.rows["trades"] = self.rows.get("trades", 0) + len(lines)
        rows: list[tuple[int, int, str]] = []
        for table, snapshot in (("depth_snapshots", "true"), ("depth_updates", "false")):
            data = tables.get(table)
            if data is None or not data["market"]:
                continue
            data = expanded(table, data)
            for order, (symbol, event, local, side, price, quantity) in enumerate(zip(
                data["symbol"], data["event_time"], data["receive_time"], data["side"],
                data["price"], data["quantity"], strict=True,
            )):  # fmt: skip
                stamp = event * self.scale if event is not None else local
                rows.append((local, order, f"{self.exchange},{symbol},{stamp},{local},{snapshot},"
                                           f"{side},{price},{quantity}\n"))  # fmt: skip
        if rows:
            rows.sort(key=lambda row: row[0])  # stable: each table keeps its own order
            lines = []
            for _, _, line in rows:
                name = line.split(",", 2)[1]
                if ",true," in line:
                    self._snapshotted.add(name)
                elif name not in self._snapshotted:
                    continue  # a book starts at its first snapshot, as Tardis' data does
                lines.append(line)
            self._file("incremental_book_L2").writelines(lines)
            self.rows["incremental_book_L2"] = self.rows.get("incremental_book_L2", 0) + len(lines)

    @property
    def files(self) -> list[Path]:
        """The files completed."""
        return self.output.files

    def close(self) -> dict[str, int]:
        """Finish every file and move it into place; the rows written per dataset."""
        self.output.finish()
        return self.rows

    def abort(self) -> None:
        """Drop the files begun."""
        self.output.drop()
