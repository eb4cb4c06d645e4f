"""The threaded manager's ``start_*`` methods, derived from the socket manager's.

Each socket method is declared once, on :class:`~binstream.BinanceSocketManager`: every
public method named ``socket`` or ``*_socket``. :func:`add_start_methods` gives the
threaded manager a ``start_<name>`` for each, with the same parameters behind a
``callback`` first and a keyword-only ``on_event``, the same documentation, and a
signature that :func:`inspect.signature` and ``help()`` show. The two managers cannot
drift: a parameter added to a socket method is there on the threaded one too.

Example::

    >>> from binstream import ThreadedWebsocketManager
    >>> import inspect
    >>> list(inspect.signature(ThreadedWebsocketManager.start_kline_socket).parameters)
    ['self', 'callback', 'symbol', 'interval', 'timezone', 'on_event']
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

Callback = Callable[[Any], Any]
#: ``on_event``: called with each :class:`~binstream.events.SocketEvent`, in order, on a
#: thread of the manager's own.
EventCallback = Callable[[Any], Any]


class _Starts(Protocol):
    _bsm: Any

    def _start_socket(
        self, callback: Callback, open_socket: Callable[[], Any], on_event: EventCallback | None
    ) -> str: ...


Manager = TypeVar("Manager", bound=type)


def socket_method_names(manager: type) -> list[str]:
    """The socket methods of a socket manager class, by the rule above, sorted."""
    return sorted(
        name
        for name, value in inspect.getmembers(manager, inspect.isfunction)
        if not name.startswith("_") and (name == "socket" or name.endswith("_socket"))
    )


def threaded_form(name: str, method: Callable[..., Any]) -> Callable[..., str]:
    """``start_<name>``: ``method``'s parameters behind ``callback``, run on the loop thread.

    The arguments are checked against ``method``'s signature in the caller's thread, so a
    wrong call is a :class:`TypeError` there, as it would be on the socket manager.
    """
    signature = inspect.signature(method)
    own, *parameters = signature.parameters.values()

    def start(
        self: _Starts, callback: Callback, *args: Any, on_event: EventCallback | None = None,
        **kwargs: Any,
    ) -> str:  # fmt: skip
        signature.bind(None, *args, **kwargs)
        return self._start_socket(
            callback, lambda: getattr(self._bsm, name)(*args, **kwargs), on_event
        )

    callback = inspect.Parameter(
        "callback", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation="Callback"
    )
    on_event = inspect.Parameter(
        "on_event", inspect.Parameter.KEYWORD_ONLY, default=None, annotation="EventCallback | None"
    )
    variadic = [p for p in parameters if p.kind is inspect.Parameter.VAR_KEYWORD]
    plain = [p for p in parameters if p.kind is not inspect.Parameter.VAR_KEYWORD]
    start.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[own, callback, *plain, on_event, *variadic], return_annotation="str"
    )
    start.__name__ = f"start_{name}"
    start.__qualname__ = f"ThreadedWebsocketManager.start_{name}"
    start.__doc__ = (
        f"{inspect.getdoc(method) or ''}\n\n"
        f"The threaded form of :meth:`BinanceSocketManager.{name}`: ``callback`` is called with "
        "each message on the socket's own thread; returns the socket's name for "
        ":meth:`stop_socket`."
    )
    return start


def add_start_methods(socket_manager: type) -> Callable[[Manager], Manager]:
    """A class decorator: ``start_<name>`` for each socket method of ``socket_manager``."""

    def decorate(threaded: Manager) -> Manager:
        for name in socket_method_names(socket_manager):
            setattr(threaded, f"start_{name}", threaded_form(name, getattr(socket_manager, name)))
        return threaded

    return decorate
