"""Numbers that fit a terminal: Binance's decimal strings, shortened for display only.

Pure string work, no floats (JSON lines keep Binance's bytes; this is for tables)::

    >>> trim("410.11000000"), trim("0.00898100"), trim("95000.00000000"), trim("-0.50")
    ('410.11', '0.008981', '95000', '-0.5')
    >>> group("1234567.891")
    '1,234,567.891'
    >>> align(["1.5", "22", "0.125"])
    [' 1.5  ', '22    ', ' 0.125']
    >>> sparkline([1, 2, 3, 2])
    '▁▅█▅'
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

_BARS = "▁▂▃▄▅▆▇█"


def trim(value: object) -> str:
    """``value`` without the trailing zeros of its fraction (and without a bare point)."""
    text = "" if value is None else str(value)
    if "." not in text or "e" in text.lower():
        return text
    body = text.rstrip("0").rstrip(".")
    return "0" if body in ("", "-", "-0") else body


def group(value: object) -> str:
    """``value`` trimmed, with thousands separators in its whole part."""
    text = trim(value)
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, point, fraction = digits.partition(".")
    if not whole.isdigit():
        return text
    return f"{sign}{int(whole):,}{point}{fraction}"


def align(values: Sequence[str], width: int = 0) -> list[str]:
    """The numbers as cells of one width (at least ``width``) whose decimal points line up,
    padded with plain spaces: a number copied out of the terminal is just the number.
    Shown as they are (a left-justified cell), the column reads right-aligned."""
    parts = [v.partition(".") for v in values]
    whole = max((len(head) for head, _, _ in parts), default=0)
    fraction = max((len(point + tail) for _, point, tail in parts), default=0)
    size = max(width, whole + fraction)
    return [
        (head.rjust(whole) + (point + tail).ljust(fraction)).rjust(size) if head or tail else ""
        for head, point, tail in parts
    ]


def number(value: object) -> Decimal | None:
    """``value`` as a Decimal for comparisons, or None when it is not a number."""
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def sparkline(values: Sequence[Decimal | int], width: int | None = None) -> str:
    """The last ``width`` values as a line of block characters, lowest ▁ to highest █."""
    chosen = [Decimal(v) for v in (list(values)[-width:] if width else values)]
    if not chosen:
        return ""
    low, high = min(chosen), max(chosen)
    if high == low:
        return _BARS[0] * len(chosen)
    top = len(_BARS) - 1
    return "".join(_BARS[int((v - low) * top / (high - low) + Decimal("0.5"))] for v in chosen)


def bar(fraction: float, width: int) -> str:
    """A horizontal bar of ``fraction`` (0 to 1) of ``width`` cells, in eighths."""
    cells = max(0.0, min(1.0, fraction)) * width
    whole = int(cells)
    rest = int((cells - whole) * 8)
    partial = " ▏▎▍▌▋▊▉"[rest] if rest and whole < width else ""
    return ("█" * whole + partial).strip()
