"""Order book apply rate: diff events per second through :class:`binstream.book.OrderBook`."""

from __future__ import annotations

import random
import time
from typing import Any


def events(
    count: int, levels: int = 5000, seed: int = 1
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rng = random.Random(seed)
    snapshot = {
        "lastUpdateId": 100,
        "bids": [[f"{1000 - i * 0.01:.2f}", "1.0"] for i in range(levels)],
        "asks": [[f"{1000.01 + i * 0.01:.2f}", "1.0"] for i in range(levels)],
    }
    out = []
    last = 100
    for _ in range(count):
        changes = rng.randint(1, 10)
        bids = [[f"{1000 - rng.randint(0, 200) * 0.01:.2f}", str(rng.choice([0, 1, 2, 3]))]
                for _ in range(changes)]  # fmt: skip
        asks = [[f"{1000.01 + rng.randint(0, 200) * 0.01:.2f}", str(rng.choice([0, 1, 2]))]
                for _ in range(changes)]  # fmt: skip
        out.append({"e": "depthUpdate", "U": last + 1, "u": last + 1, "b": bids, "a": asks})
        last += 1
    return snapshot, out


def run(count: int = 50_000) -> dict[str, Any]:
    from binstream.book import OrderBook

    snapshot, diff = events(count)
    book = OrderBook()
    book.feed(diff[0])
    book.apply_snapshot({**snapshot, "lastUpdateId": 100})
    started = time.perf_counter()
    for event in diff[1:]:
        book.feed(event)
    elapsed = time.perf_counter() - started
    changed = sum(len(e["b"]) + len(e["a"]) for e in diff[1:])
    return {"client": "OrderBook.feed (5,000-level book)", "ok": True,
            "events_per_s": round((count - 1) / elapsed),
            "levels_per_s": round(changed / elapsed)}  # fmt: skip


if __name__ == "__main__":
    print(run())
