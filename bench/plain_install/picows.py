"""Stands in for picows on the bench's plain-install clients: not installed."""

raise ImportError("picows is not part of a plain install (the bench blocks it)")
