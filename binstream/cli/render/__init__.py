"""Output: JSON lines (fast, for pipes), live rich tables (for terminals), status lines."""
