"""Recordings converted for analysis: Parquet tables and Tardis-format CSV.

``binstream convert INPUT... --to parquet -o OUTDIR`` and ``record --convert parquet`` on
the command line; :func:`convert` from Python. Conversion streams through each input with
bounded memory (rows go out in batches), and an output file appears under its final name
only once it is complete.
"""

from .convert import ConvertResult, convert, parquet_available

__all__ = ["ConvertResult", "convert", "parquet_available"]
