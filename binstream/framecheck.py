"""Check a text frame without decoding it: is it JSON, which shape, the few fields we route on.

The read loop needs, for every frame, to know that it is valid JSON, whether it is an
object or an array, and three things about an object: does it carry an ``id`` (a reply to
a control message), is it a ``serverShutdown`` event, its ``stream`` (combined wrappers).
When the frame itself is what gets delivered (JSON lines, or a long frame queued as text),
building the whole Python object only to throw it away was most of the CLI's time on
depth20. msgspec validates the whole document and decodes only those three keys into a
small struct, skipping the rest (docs/performance.md has the figures); it is used when
installed (the ``[fast]`` extra), and orjson otherwise.

Both reject what is not RFC 8259 JSON (NaN, trailing commas or data, lone surrogates).
One difference is left on purpose: a number too large for a double (``1e999``) in a key we
do not route on passes msgspec's check, as JSON's grammar allows and jq reads it, while
orjson refuses it. :func:`decode_frame` decodes such a frame as Python's ``json`` does
(``inf``), so a frame that passed the check always decodes.

Example::

    >>> from binstream.framecheck import check_frame
    >>> check_frame('{"stream":"bnbbtc@trade","data":{}}')
    ('object', False, False, 'bnbbtc@trade')
    >>> check_frame("[1, 2]")[0]
    'array'
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

import orjson

Kind = Literal["object", "array", "scalar"]


#: What the read loop routes on: (kind, has an ``id``, is a ``serverShutdown`` event,
#: the ``stream`` field if it is a string). A plain tuple: a NamedTuple's constructor
#: cost as much as checking a small frame.
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


def decode_frame(frame: str | bytes) -> Any:
    """Decode a frame that passed the check: orjson, or Python's ``json`` for the one kind of
    document only msgspec accepts (a number beyond a double's range, decoded as ``inf``)."""
    try:
        return orjson.loads(frame)
    except orjson.JSONDecodeError:
        return json.loads(frame)


def _check_with_orjson(frame: str) -> FrameShape:
    try:
        return shape_of(orjson.loads(frame))
    except orjson.JSONDecodeError as exc:
        raise ValueError(str(exc)) from None


def _plain_with_orjson(frame: str) -> bool:
    if type(frame) is not str:
        return False
    kind, has_id, shutdown, _ = _check_with_orjson(frame)
    return kind == "array" or (kind == "object" and not has_id and not shutdown)


def _msgspec_checkers() -> tuple[Callable[[str], FrameShape], Callable[[str], bool]] | None:
    try:
        import msgspec
    except ImportError:
        return None

    class Routing(msgspec.Struct, gc=False):  # decoded JSON has no cycles to collect
        """The top-level keys the read loop routes on; any other key is validated, skipped."""

        id: Any = msgspec.UNSET
        e: Any = None
        stream: Any = None

    decode = msgspec.json.Decoder(Routing).decode
    unset = msgspec.UNSET
    not_an_object, not_json = msgspec.ValidationError, msgspec.DecodeError

    def check(frame: str) -> FrameShape:
        try:
            routing = decode(frame)
        except not_an_object:  # an array, a scalar, or an object msgspec could not type
            return _check_with_orjson(frame)
        except not_json as exc:
            raise ValueError(str(exc)) from None
        stream = routing.stream
        return (
            "object",
            routing.id is not unset,
            routing.e == "serverShutdown",
            stream if type(stream) is str else None,
        )

    def plain(frame: str) -> bool:
        if type(frame) is not str:  # a binary frame is never delivered as it is
            return False
        try:
            routing = decode(frame)
        except not_an_object:
            return _plain_with_orjson(frame)
        except not_json as exc:
            raise ValueError(str(exc)) from None
        return routing.id is unset and routing.e != "serverShutdown"

    return check, plain


_CHECKERS = _msgspec_checkers()
#: ``check_frame(text) -> FrameShape``; raises ValueError when ``text`` is not JSON.
check_frame: Callable[[str], FrameShape] = _CHECKERS[0] if _CHECKERS else _check_with_orjson
#: ``plain_frame(text) -> bool``: True for JSON that is delivered as it is on a raw
#: (not combined) connection: an array, or an object that is neither a reply (``id``) nor
#: a ``serverShutdown`` event. False for anything else (a binary frame too), which
#: :func:`check_frame` then sorts out; ValueError when ``text`` is not JSON. One question
#: instead of four.
plain_frame: Callable[[str], bool] = _CHECKERS[1] if _CHECKERS else _plain_with_orjson
#: Which library checks frames: "msgspec" or "orjson".
CHECKER = "msgspec" if _CHECKERS else "orjson"
