"""Stands in for simdjson on the bench's plain-install clients: not installed."""

raise ImportError("simdjson is not part of a plain install (the bench blocks it)")
