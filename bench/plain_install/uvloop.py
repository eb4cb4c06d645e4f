"""Stands in for uvloop on the bench's plain-install clients: not installed."""

raise ImportError("uvloop is not part of a plain install (the bench blocks it)")
