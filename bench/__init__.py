"""binstream's benchmark suite: ``python -m bench`` (loopback only, bounded in time)."""
