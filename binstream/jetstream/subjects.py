"""Where a stream's messages go in NATS: ``<prefix>.<market>.<symbol>.<type>``.

The symbol is the stream name's, as Binance spells it in stream names (lowercase but for
options contracts' own case); an all-market stream (``!ticker@arr``) has the symbol
``all``. The type is the rest of the name with each ``@`` written ``_``, since NATS
subjects are dot-separated tokens and wildcards are ``*`` and ``>``.

Example::

    >>> stream_subject("spot", "bnbbtc@depth@100ms")
    'binance.spot.bnbbtc.depth_100ms'
    >>> stream_subject("usdm", "!markPrice@arr@1s", prefix="md")
    'md.usdm.all.markPrice_arr_1s'
    >>> stream_subject("usdm", "btcusdt_perpetual@continuousKline_1m")
    'binance.usdm.btcusdt_perpetual.continuousKline_1m'
"""

from __future__ import annotations

import re

DEFAULT_PREFIX = "binance"
#: The market token of SBE streams' subjects (``binance.sbe.bnbbtc.trade``): their events
#: carry microsecond times and SBE's own event types, so they stay apart from the JSON
#: streams of the same names.
SBE_SUBJECT_MARKET = "sbe"

_NOT_IN_A_TOKEN = re.compile(r"[.\s*>]")
_PREFIX = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")


def _token(text: str) -> str:
    return _NOT_IN_A_TOKEN.sub("_", text) or "_"


def stream_subject(market: str, stream: str, prefix: str = DEFAULT_PREFIX) -> str:
    """The subject the messages of ``stream`` (a normalized name of ``market``) go to."""
    symbol, _, kind = stream.partition("@")
    if symbol.startswith("!"):
        symbol, kind = "all", f"{symbol[1:]}@{kind}" if kind else symbol[1:]
    return f"{prefix}.{market}.{_token(symbol)}.{_token(kind.replace('@', '_'))}"


def check_prefix(prefix: str) -> str:
    """``prefix`` if it is one or more plain subject tokens, else ValueError."""
    if not _PREFIX.match(prefix):
        raise ValueError(
            f"{prefix!r} is not a subject prefix: use letters, digits, '-' and '_' in "
            "dot-separated tokens, e.g. binance or md.binance"
        )
    return prefix
