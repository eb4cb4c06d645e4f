"""From a combined-stream message to what is published: stream name, payload, bytes.

Binance wraps each message of a combined connection as ``{"stream":NAME,"data":PAYLOAD}``
with ``data`` last, so the payload's bytes are sliced out of the frame as received (what
consumers read is what Binance sent); a decoded dict is encoded again.

Example::

    >>> split_message('{"stream":"bnbbtc@trade","data":{"e":"trade","t":1}}')
    ('bnbbtc@trade', {'e': 'trade', 't': 1}, b'{"e":"trade","t":1}')
    >>> split_message({"stream": "bnbbtc@trade", "data": {"t": 2}})
    ('bnbbtc@trade', {'t': 2}, b'{"t":2}')
"""

from __future__ import annotations

from typing import Any

import orjson

_HEAD = b'{"stream":"'
_DATA = b',"data":'


def split_message(message: Any) -> tuple[str, Any, bytes]:
    """``(stream, payload, payload bytes)`` of a combined message (frame text or dict);
    ValueError if it is not one."""
    if isinstance(message, dict):
        stream, payload = message.get("stream"), message.get("data")
        if not isinstance(stream, str) or payload is None:
            raise ValueError("not a combined-stream message")
        return stream, payload, orjson.dumps(payload)
    raw = message.encode() if isinstance(message, str) else bytes(message)
    document = orjson.loads(raw)
    if not isinstance(document, dict):
        raise ValueError("not a combined-stream message")
    stream, payload = document.get("stream"), document.get("data")
    if not isinstance(stream, str) or payload is None:
        raise ValueError("not a combined-stream message")
    start = raw.find(_DATA, len(_HEAD) + len(stream))
    if raw.startswith(_HEAD) and start > 0 and raw.endswith(b"}"):
        return stream, payload, raw[start + len(_DATA) : -1]
    return stream, payload, orjson.dumps(payload)
