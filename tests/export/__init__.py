"""Tests of the export layer: recordings as Parquet tables and Tardis CSV, read back."""
