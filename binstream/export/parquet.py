"""Tables as Parquet files (pyarrow, the ``[parquet]`` extra): exact decimals, timestamps.

Each table of a recording goes to ``OUTDIR/<table>/<recording name>.parquet``, written in
row groups as batches come and renamed into place once complete (a Parquet file is
readable only once closed), so ``read_parquet('OUTDIR/trades/**/*.parquet')`` never sees
half a file. Decimal strings become ``decimal128(38, 18)`` values equal to what Binance
sent (an arrow cast, never a float); times become UTC timestamps in microseconds.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..recording import Header, RecordingError
from ..tables import REPEATED, RUNS, columns
from .files import PartialFiles

DECIMAL = pa.decimal128(38, 18)
TIMESTAMP = pa.timestamp("us", tz="UTC")
_TYPES = {"str": pa.string(), "int": pa.int64(), "bool": pa.bool_(), "decimal": DECIMAL,
          "time_ms": TIMESTAMP, "time_us": TIMESTAMP}  # fmt: skip


def schema(table: str) -> pa.Schema:
    """The Arrow schema of one table (the same for JSON and SBE recordings: every time is
    a timestamp in microseconds)."""
    return pa.schema([(name, _TYPES[kind]) for name, kind in columns(table).items()])


def _array(values: list[Any], kind: str, table: str, column: str) -> pa.Array:
    try:
        if kind == "decimal":
            return pa.array(values, pa.string()).cast(DECIMAL)
        if kind == "time_ms":
            return pc.multiply(pa.array(values, pa.int64()), 1000).cast(TIMESTAMP)
        if kind == "time_us":
            return pa.array(values, pa.int64()).cast(TIMESTAMP)
        return pa.array(values, _TYPES[kind])
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
        raise RecordingError(f"{table}.{column}: a value does not fit ({exc})") from None


class ParquetTables:
    """One recording's tables, each a Parquet file written as batches come."""

    def __init__(self, outdir: Path, name: str, header: Header) -> None:
        self.outdir = outdir
        self.name = name
        self.output = PartialFiles()
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="parquet")
        self._pending: concurrent.futures.Future[None] | None = None
        self.rows: dict[str, int] = {}
        #: SBE recordings' exchange times are microseconds already.
        self.micro = header.sbe

    def write_batch(self, tables: dict[str, dict[str, list[Any]]]) -> None:
        """Write each table's rows as a row group of its file."""
        for table, data in tables.items():
            runs = data.get(RUNS)
            count = sum(runs) if runs is not None else len(data["market"])
            if not count:
                continue
            kinds = columns(table, self.micro)
            arrays = [_array(data[column], kind, table, column) for column, kind in kinds.items()]
            if runs is not None:
                ends = pa.array(itertools.accumulate(runs), pa.int64())
                arrays = [
                    pc.run_end_decode(pa.RunEndEncodedArray.from_arrays(ends, array))
                    if column in REPEATED[table] else array
                    for column, array in zip(kinds, arrays, strict=True)
                ]  # fmt: skip
            batch = pa.Table.from_arrays(arrays, schema=schema(table))
            writer = self._writer(table)
            # Encoding and compression release the interpreter lock: they run beside the
            # next batch's building, one batch at a time (memory stays bounded).
            self._wait()
            self._pending = self._thread.submit(writer.write_table, batch)
            self.rows[table] = self.rows.get(table, 0) + count

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def _writer(self, table: str) -> pq.ParquetWriter:
        entry = self.output.open.get(table)
        if entry is None:
            partial, final = PartialFiles.paths(self.outdir, table, f"{self.name}.parquet")
            entry = (pq.ParquetWriter(partial, schema(table), compression="zstd"), partial, final)
            self.output.open[table] = entry
        return entry[0]  # type: ignore[return-value]

    @property
    def files(self) -> list[Path]:
        """The files completed."""
        return self.output.files

    def close(self) -> dict[str, int]:
        """Finish every file and move it into place; the rows written per table."""
        self._wait()
        self._thread.shutdown()
        self.output.finish()
        return self.rows

    def abort(self) -> None:
        """Drop the files begun: nothing half-written is left under a final name."""
        with contextlib.suppress(Exception):
            self._wait()
        self._thread.shutdown()
        self.output.drop()
