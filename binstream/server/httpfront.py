"""REST calls other than GET on the local exchange's one port.

websockets' server parses GET requests only (a WebSocket handshake is one), and the
exchange answers its GET REST calls from ``process_request``. Binance's listenKey calls are
``POST``, ``PUT`` and ``DELETE``: :func:`connection_class` makes a subclass of websockets'
public :class:`~websockets.asyncio.server.ServerConnection` (its ``create_connection``
hook) that answers such a request itself, through a handler, and passes every other
connection on to websockets untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

import orjson
from websockets.asyncio.server import ServerConnection

log = logging.getLogger("binstream.server")

#: ``handler(method, path, params, headers) -> (status, body)``; ``params`` merges the
#: query string and a form-encoded body, ``headers`` has lowercased names.
RestHandler = Callable[[str, str, dict[str, str], dict[str, str]], tuple[int, Any]]

_METHODS = (b"POST ", b"PUT ", b"DELETE ", b"PATCH ")
_MAX_REQUEST = 64 * 1024


class _RestAwareConnection(ServerConnection):
    """A websockets server connection that answers non-GET REST requests itself."""

    rest_handler: RestHandler

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rest: bytearray | None = None
        self._decided = False

    def data_received(self, data: bytes) -> None:
        if not self._decided:
            if self._rest is None and len(data) < 8 and not data.startswith(b"GET"):
                self._rest = bytearray()  # too short to tell: wait for more
            if self._rest is not None:
                self._rest += data
                data = bytes(self._rest)
            if len(data) < 8 and not data.startswith(b"GET"):
                return
            self._decided = True
            if not data.startswith(_METHODS):
                self._rest = None
                super().data_received(data)
                return
            self._rest = bytearray(data)
            self._answer_if_complete()
            return
        if self._rest is None:
            super().data_received(data)
            return
        self._rest += data
        self._answer_if_complete()

    def _answer_if_complete(self) -> None:
        assert self._rest is not None
        head, sep, body = bytes(self._rest).partition(b"\r\n\r\n")
        if not sep:
            if len(self._rest) > _MAX_REQUEST:
                self._reply(431, {"code": -1, "msg": "Request header fields too large."})
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, *_ = [*lines[0].split(" "), "", ""]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        if len(body) < length:
            return
        path, _, query = target.partition("?")
        params = dict(parse_qsl(query, keep_blank_values=True))
        if length and "json" not in headers.get("content-type", ""):
            params.update(parse_qsl(body[:length].decode("latin-1"), keep_blank_values=True))
        try:
            status, reply = self.rest_handler(method, path, params, headers)
        except Exception:  # the exchange must answer, whatever went wrong
            log.exception("REST %s %s failed", method, path)
            status, reply = 500, {"code": -1000, "msg": "An unknown error occurred."}
        self._reply(status, reply)

    def _reply(self, status: int, body: Any) -> None:
        payload = orjson.dumps(body)
        head = (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n")  # fmt: skip
        self._rest = bytearray()
        transport = self.transport
        transport.write(head.encode() + payload)
        transport.close()


def connection_class(handler: RestHandler) -> type[ServerConnection]:
    """A ``create_connection`` for :func:`websockets.asyncio.server.serve` whose connections
    answer POST, PUT and DELETE requests with ``handler``."""
    return type(
        "RestAwareConnection", (_RestAwareConnection,), {"rest_handler": staticmethod(handler)}
    )
