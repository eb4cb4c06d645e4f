"""Tests of the pure model: stream names, venues, book procedures, frame checks, recordings."""
