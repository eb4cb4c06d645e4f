"""The streams one connection carries, and the control requests that change them.

A :class:`Subscriptions` is the truth about one link: the streams it should carry
(``streams``, in order), those being left (``leaving``: their frames are dropped quietly
until the server confirms), and what callers wait for. It never talks to the network
itself: the link's session calls :meth:`Subscriptions.opened` when a connection opens
(with the streams its URL carried), :meth:`Subscriptions.next_request` to get the next
message to send (paced by the caller), :meth:`Subscriptions.reply` with each reply, and
:meth:`Subscriptions.lost` when the connection ends.

Because the set is the truth, a reconnect (or a rotation) carries the set in force at that
moment: requests in flight when a connection drops are not resent; the new connection's
URL and first ``SUBSCRIBE`` carry every stream wanted, and confirm the callers waiting.

Example::

    >>> s = Subscriptions(["a@trade"])
    >>> s.opened(["a@trade"])
    >>> waiter = s.add(["b@trade"])
    >>> request = s.next_request()
    >>> request["method"], request["params"]
    ('SUBSCRIBE', ['b@trade'])
    >>> s.reply({"result": None, "id": request["id"]})
    True
    >>> waiter.done(), list(s.streams)
    (True, ['a@trade', 'b@trade'])
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import BinstreamError

#: Streams per SUBSCRIBE/UNSUBSCRIBE message.
BATCH = 200

_ids = itertools.count(1)


class SubscriptionError(BinstreamError):
    """The server refused a SUBSCRIBE/UNSUBSCRIBE/LIST_SUBSCRIPTIONS request, or did not
    confirm it in time."""


@dataclass
class _Waiter:
    kind: str  # "subscribe" or "unsubscribe"
    streams: set[str]
    future: asyncio.Future[None]


@dataclass
class _Sent:
    method: str
    params: list[str]
    list_future: asyncio.Future[list[str]] | None = None


class Subscriptions:
    """See the module docstring. Single event loop; not thread-safe."""

    def __init__(self, streams: Iterable[str] = ()) -> None:
        self.streams = dict.fromkeys(streams)
        self.leaving: set[str] = set()
        self._confirmed: set[str] = set()
        self._open = False
        self._to_subscribe: dict[str, None] = {}
        self._to_unsubscribe: dict[str, None] = {}
        self._lists: list[asyncio.Future[list[str]]] = []
        self._sent: dict[int, _Sent] = {}
        self._waiters: list[_Waiter] = []
        #: Set when there is something to send (the sender waits on it).
        self.pending = asyncio.Event()
        #: Called with ("subscribed" | "unsubscribed", streams) once the server confirms.
        self.on_change: Any = None
        #: Called with the message of a refusal no caller waits for (a resubscription).
        self.on_error: Any = None

    # -- what callers ask for ---------------------------------------------------------------

    def add(self, names: Iterable[str]) -> asyncio.Future[None]:
        """Carry ``names`` too; the future resolves once the server carries them all."""
        new = [n for n in dict.fromkeys(names) if n not in self.streams or n in self.leaving]
        for name in new:
            self.streams[name] = None
            if name in self._to_unsubscribe:  # not sent yet: nothing to undo on the server
                del self._to_unsubscribe[name]
                self.leaving.discard(name)
                self._confirmed.add(name)
            elif name not in self._confirmed:
                self._to_subscribe[name] = None
        self._settle()  # an unsubscribe this add undid before it was sent is settled too
        return self._wait("subscribe", {n for n in new if n not in self._confirmed})

    def remove(self, names: Iterable[str]) -> asyncio.Future[None]:
        """Stop carrying ``names``; the future resolves once the server stopped."""
        gone = [n for n in dict.fromkeys(names) if n in self.streams]
        waiting = set()
        for name in gone:
            del self.streams[name]
            if name in self._to_subscribe:  # never sent: nothing to undo on the server
                del self._to_subscribe[name]
                self._resolve_streams({name})
            else:  # carried, or its SUBSCRIBE is in flight: undo it on the server
                self._confirmed.discard(name)
                self.leaving.add(name)
                self._to_unsubscribe[name] = None
                waiting.add(name)
        return self._wait("unsubscribe", waiting)

    def list(self) -> asyncio.Future[list[str]]:
        """What the server says this connection carries (``LIST_SUBSCRIPTIONS``)."""
        future: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
        self._lists.append(future)
        self.pending.set()
        return future

    def _wait(self, kind: str, streams: set[str]) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not streams:
            future.set_result(None)
        else:
            self._waiters.append(_Waiter(kind, streams, future))
            self.pending.set()
        return future

    @property
    def awaiting_reply(self) -> bool:
        """A request was sent and its reply has not come yet."""
        return bool(self._sent)

    # -- the connection's side --------------------------------------------------------------

    def opened(self, in_url: Iterable[str]) -> None:
        """A connection opened carrying ``in_url``; what else is wanted gets subscribed."""
        self._open = True
        self._confirmed = set(in_url) & set(self.streams)
        self._to_subscribe = {n: None for n in self.streams if n not in self._confirmed}
        self._to_unsubscribe = {}
        self.leaving.clear()
        self._settle()
        if self._to_subscribe or self._lists:
            self.pending.set()

    def lost(self) -> None:
        """The connection ended: nothing is in force until the next one opens."""
        self._open = False
        self._confirmed = set()
        lists = [s.list_future for s in self._sent.values() if s.list_future is not None]
        self._lists = lists + self._lists  # asked again on the next connection
        self._sent.clear()
        self.pending.clear()

    def next_request(self) -> dict[str, Any] | None:
        """The next control message to send, or None (and ``pending`` cleared)."""
        if not self._open:
            return None
        request_id = next(_ids)
        if self._to_unsubscribe:
            params = list(itertools.islice(self._to_unsubscribe, BATCH))
            for name in params:
                del self._to_unsubscribe[name]
            self._sent[request_id] = _Sent("UNSUBSCRIBE", params)
        elif self._to_subscribe:
            params = list(itertools.islice(self._to_subscribe, BATCH))
            for name in params:
                del self._to_subscribe[name]
            self._sent[request_id] = _Sent("SUBSCRIBE", params)
        elif self._lists:
            self._sent[request_id] = _Sent("LIST_SUBSCRIPTIONS", [], self._lists.pop(0))
            return {"method": "LIST_SUBSCRIPTIONS", "id": request_id}
        else:
            self.pending.clear()
            return None
        sent = self._sent[request_id]
        return {"method": sent.method, "params": sent.params, "id": request_id}

    def reply(self, message: dict[str, Any]) -> bool:
        """Handle a reply; False if it answers no request of ours."""
        sent = self._sent.pop(message.get("id"), None)  # type: ignore[arg-type]
        if sent is None:
            return False
        error = message.get("error") or (message if "code" in message else None)
        if error:
            text = f"{sent.method} refused: {error.get('msg', error)} (code {error.get('code')})"
            if not self._refused(sent, text) and self.on_error is not None:
                self.on_error(text)
            return True
        if sent.method == "LIST_SUBSCRIPTIONS":
            if sent.list_future is not None and not sent.list_future.done():
                sent.list_future.set_result(list(message.get("result") or []))
        elif sent.method == "SUBSCRIBE":
            self._confirmed.update(n for n in sent.params if n in self.streams)
        else:
            self.leaving.difference_update(sent.params)
        self._settle(sent)
        return True

    # -- resolving waiters ------------------------------------------------------------------

    def _refused(self, sent: _Sent, text: str) -> bool:
        """Fail the callers waiting on ``sent``; False if none was."""
        error = SubscriptionError(text)
        if sent.list_future is not None:
            if not sent.list_future.done():
                sent.list_future.set_exception(error)
            return True
        claimed = False
        params = set(sent.params)
        if sent.method == "SUBSCRIBE":
            for name in params:
                self.streams.pop(name, None)
        else:
            self.leaving.difference_update(params)
        for waiter in list(self._waiters):
            if waiter.streams & params:
                claimed = True
                self._waiters.remove(waiter)
                if not waiter.future.done():
                    waiter.future.set_exception(error)
        return claimed

    def _settle(self, sent: _Sent | None = None) -> None:
        """Resolve the waiters whose streams are now all in force (or all gone)."""
        for waiter in list(self._waiters):
            if waiter.kind == "subscribe":
                waiter.streams = {n for n in waiter.streams
                                  if n in self.streams and n not in self._confirmed}  # fmt: skip
            else:
                waiter.streams = {n for n in waiter.streams if n in self.leaving}
            if not waiter.streams:
                self._waiters.remove(waiter)
                if not waiter.future.done():
                    waiter.future.set_result(None)
        if sent is not None and sent.params and self.on_change is not None:
            kind = "subscribed" if sent.method == "SUBSCRIBE" else "unsubscribed"
            self.on_change(kind, sent.params)

    def _resolve_streams(self, names: set[str]) -> None:
        for waiter in self._waiters:
            waiter.streams -= names
        self._settle()
