"""Check a text frame without decoding it: is it JSON, which shape, the few fields we route on.

The read loop needs, for every frame, to know that it is valid JSON, whether it is an
object or an array, and three things about an object: does it carry an ``id`` (a reply to
a control message), is it a ``serverShutdown`` event, its ``stream`` (combined wrappers).
When the frame itself is what gets delivered (JSON lines, or a long frame queued as text),
building the whole Python object only to throw it away was most of the CLI's time on
depth20 (orjson.loads: ~7.4 µs for a depth20 message). simdjson validates the whole
document and answers those questions in ~1.7 µs, creating no Python objects; it is used
when pysimdjson is installed (the ``[fast]`` extra), and orjson otherwise. Both accept
and reject the same documents (RFC 8259 JSON; no NaN, no trailing data).

Example::

    >>> from binstream.framecheck import check_frame
    >>> check_frame('{"stream":"bnbbtc@trade","data":{}}')
    ('object', False, False, 'bnbbtc@trade')
    >>> check_frame("[1, 2]")[0]
    'array'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import orjson

Kind = Literal["object", "array", "scalar"]


#: What the read loop routes on: (kind, has an ``id``, is a ``serverShutdown`` event,
#: the ``stream`` field if it is a string). A plain tuple: a NamedTuple's constructor
#: cost as much as the simdjson parse of a small frame.
FrameShape = tuple[Kind, bool, bool, "str | None"]
_ARRAY: FrameShape = ("array", False, False, None)
_SCALAR: FrameShape = ("scalar", False, False, None)


def shape_of(message: Any) -> FrameShape:
    """The shape of an already decoded message."""
    kind = type(message)
    if kind is dict:
        stream = message.get("stream")
        return (
            "object",
            "id" in message,
            message.get("e") == "serverShutdown",
            stream if type(stream) is str else None,
        )
    return _ARRAY if kind is list else _SCALAR


def _check_with_orjson(frame: str) -> FrameShape:
    try:
        return shape_of(orjson.loads(frame))
    except orjson.JSONDecodeError as exc:
        raise ValueError(str(exc)) from None


#: From this length on, a frame's keys are read from the document rather than its text
#: (a short frame with many keys, like a 24 h ticker event, is quicker to scan).
_LONG = 768


def _simdjson_checker() -> Callable[[str], FrameShape] | None:
    try:
        import simdjson
    except ImportError:
        return None
    parser = [simdjson.Parser()]
    object_type, array_type = simdjson.Object, simdjson.Array

    def check(frame: str) -> FrameShape:
        document: Any
        try:
            document = parser[0].parse(frame)
        except RuntimeError:  # a document proxy still alive: start a fresh parser
            parser[0] = simdjson.Parser()
            document = parser[0].parse(frame)
        kind = type(document)
        if kind is not object_type:
            del document
            return _ARRAY if kind is array_type else _SCALAR
        if len(frame) > _LONG:
            # A long frame (depth20: ~1.2 KB, three or two keys): listing its top-level keys
            # costs ~1 µs, three scans of its text ~2 µs.
            keys = set(document.keys())
            has_id = "id" in keys
            shutdown = "e" in keys and document["e"] == "serverShutdown"
            stream = document["stream"] if "stream" in keys else None
        else:
            # Looking up a key that is absent costs simdjson ~4 µs (an exception inside),
            # so a key is looked up only when its name is in the text at all (Binance never
            # escapes key names).
            has_id = '"id"' in frame and "id" in document
            shutdown = '"serverShutdown"' in frame and document.get("e") == "serverShutdown"
            stream = document.get("stream") if '"stream"' in frame else None
        if type(stream) is not str:  # a nested proxy would pin the parser's buffer
            stream = None
        del document
        return ("object", has_id, shutdown, stream)

    def plain(frame: str) -> bool:
        document: Any
        try:
            document = parser[0].parse(frame)
        except RuntimeError:
            parser[0] = simdjson.Parser()
            document = parser[0].parse(frame)
        kind = type(document)
        if kind is not object_type:
            del document
            return kind is array_type
        if len(frame) > _LONG:
            keys = document.keys()
            special = "id" in keys or ("e" in keys and document["e"] == "serverShutdown")
        else:
            special = ('"id"' in frame and "id" in document) or (
                '"serverShutdown"' in frame and document.get("e") == "serverShutdown"
            )
        del document
        return not special

    check.plain = plain  # type: ignore[attr-defined]
    return check


def _plain_with_orjson(frame: str) -> bool:
    kind, has_id, shutdown, _ = _check_with_orjson(frame)
    return kind == "array" or (kind == "object" and not has_id and not shutdown)


#: ``check_frame(text) -> FrameShape``; raises ValueError when ``text`` is not JSON.
check_frame: Callable[[str], FrameShape] = _simdjson_checker() or _check_with_orjson
#: ``plain_frame(text) -> bool``: True for JSON that is delivered as it is on a raw
#: (not combined) connection: an array, or an object that is neither a reply (``id``) nor
#: a ``serverShutdown`` event. False for anything else, which :func:`check_frame` then
#: sorts out; ValueError when ``text`` is not JSON. One question instead of four.
plain_frame: Callable[[str], bool] = getattr(check_frame, "plain", _plain_with_orjson)
#: Which library checks frames: "simdjson" or "orjson".
CHECKER = "orjson" if check_frame is _check_with_orjson else "simdjson"
