"""Convert recordings into one folder per table: the format-independent part."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..recording import RecordingError, read_recording
from ..sbe import SbeError
from ..tables import TableBuilder

Format = Literal["parquet", "tardis-csv"]

#: Rows a table gathers before they are written out: memory stays bounded by this.
BATCH_ROWS = 100_000


@dataclass
class ConvertResult:
    """What a conversion wrote: rows per table, files, and notes about cut inputs."""

    rows: dict[str, int] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def parquet_available() -> bool:
    """True when pyarrow (the ``[parquet]`` extra) can be imported."""
    return importlib.util.find_spec("pyarrow") is not None


def output_name(path: Path) -> str:
    """A recording's name without its suffixes: ``s-0002.jsonl.zst`` → ``s-0002``."""
    return path.name.split(".", 1)[0]


def convert(
    inputs: list[Path],
    to: Format,
    outdir: Path,
    *,
    on_notice: Callable[[str], None] | None = None,
) -> ConvertResult:
    """Convert each recording into ``outdir/<table>/<input name>.<ext>``.

    Raises :class:`~binstream.recording.RecordingError` for a file that is not a readable
    recording; a file cut short is converted up to its last whole record, and its notice
    is passed to ``on_notice``.
    """
    if to == "parquet":
        from .parquet import ParquetTables as Sink
    else:
        from .tardis import TardisTables as Sink  # type: ignore[assignment]
    result = ConvertResult()
    names = [output_name(path) for path in inputs]
    if len(set(names)) != len(names):
        raise RecordingError("two inputs have the same name; their tables would collide")
    for path, name in zip(inputs, names, strict=True):
        header, entries = read_recording(path)
        builder = TableBuilder(header)
        sink = Sink(outdir, name, header)
        try:
            for count, entry in enumerate(entries, 1):
                if entry.notice is not None:
                    result.notices.append(entry.notice)
                    if on_notice is not None:
                        on_notice(entry.notice)
                    continue
                try:
                    builder.add(entry)
                except SbeError as exc:
                    raise RecordingError(f"{path} line {entry.line}: {exc}") from None
                if count % 1024 == 0 and max(builder.rows.values(), default=0) >= BATCH_ROWS:
                    sink.write_batch({table: builder.take(table) for table in list(builder.rows)})
            sink.write_batch({table: builder.take(table) for table in list(builder.rows)})
        except BaseException:
            sink.abort()
            raise
        for table, rows in sink.close().items():
            result.rows[table] = result.rows.get(table, 0) + rows
        result.files.extend(sink.files)
    return result
