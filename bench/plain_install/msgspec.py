"""Stands in for msgspec on the bench's plain-install clients: not installed."""

raise ImportError("msgspec is not part of a plain install (the bench blocks it)")
