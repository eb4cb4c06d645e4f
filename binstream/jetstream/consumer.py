"""Reading the log back: what a JetStream stream holds, as the entries a live tail prints.

Each message becomes a :class:`~binstream.recording.Entry` whose frame is Binance's
payload as published (one stream asked for) or ``{"stream":…,"data":…}`` (a wildcard
subject, as a combined connection prints), timed by JetStream's store time; gap markers
become gap entries. An ordered consumer reads it: in order, resumed after NATS failovers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import NatsError
from ..recording import Entry
from .connect import NatsOptions, connect
from .publisher import GAP_HEADER, PUBLISHER_HEADER, STREAM_HEADER
from .streamconfig import NO_JETSTREAM

_WILDCARDS = ("*", ">")


@dataclass(frozen=True)
class LogQuery:
    """Which messages: ``subject`` (wildcards allowed), and where to start: ``since``
    seconds ago, ``from_start``, or (neither) new messages only. ``stop_at_end`` ends the
    read once it has caught up with the log."""

    subject: str = "binance.>"
    since: float | None = None
    from_start: bool = False
    stop_at_end: bool = False
    js_stream: str | None = None

    @property
    def single_stream(self) -> bool:
        """True when the subject names one stream: payloads print bare, as a raw stream's."""
        return not any(token in _WILDCARDS for token in self.subject.split("."))

    @property
    def many_markets(self) -> bool:
        """True when the subject may match more than one market (its 2nd token is a wildcard
        or absent): each line then names its market."""
        tokens = self.subject.split(".")
        return len(tokens) < 2 or tokens[1] in _WILDCARDS or tokens[0] == ">"


def _deliver(query: LogQuery) -> dict[str, Any]:
    from nats.js.api import ConsumerConfig, DeliverPolicy

    if query.from_start:
        return {"deliver_policy": DeliverPolicy.ALL}
    if query.since is not None:
        start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=query.since)
        return {"config": ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME,
                                         opt_start_time=start)}  # fmt: skip
    return {"deliver_policy": DeliverPolicy.NEW}


def _entry(msg: Any, query: LogQuery, number: int) -> Entry:
    headers = msg.headers or {}
    stamp = msg.metadata.timestamp.timestamp() * 1000 if msg.metadata.timestamp else 0.0
    stream = headers.get(STREAM_HEADER) or msg.subject
    gap = headers.get(GAP_HEADER)
    if gap is not None:
        publisher = headers.get(PUBLISHER_HEADER, "?")
        return Entry(stamp, gap=f"{stream} (publisher {publisher}): {gap}", line=number)
    data: bytes = msg.data
    if query.single_stream:
        return Entry(stamp, frame=data.decode(), line=number)
    market = f',"market":"{msg.subject.split(".")[1]}"' if query.many_markets else ""
    frame = f'{{"stream":{orjson.dumps(stream).decode()}{market},"data":{data.decode()}}}'
    return Entry(stamp, frame=frame, line=number)


async def _open(js: Any, query: LogQuery) -> tuple[str, Any, int]:
    """The stream to read, an ordered subscription on it, and how many messages it holds."""
    from nats.errors import Error as NatsClientError
    from nats.errors import NoRespondersError
    from nats.js.errors import APIError, NotFoundError, ServiceUnavailableError

    try:
        stream = query.js_stream or await js.find_stream_name_by_subject(query.subject)
        held = (await js.stream_info(stream)).state.messages
        subscription = await js.subscribe(
            query.subject, stream=stream, ordered_consumer=True, **_deliver(query)
        )
    except NotFoundError:
        what = f"JetStream stream {query.js_stream}" if query.js_stream else (
            f"JetStream stream that captures {query.subject}")  # fmt: skip
        raise NatsError(f"there is no {what}: publish into it first (binstream publish), "
                        "or check --subject and --js-stream") from None  # fmt: skip
    except (NoRespondersError, ServiceUnavailableError):
        raise NatsError(NO_JETSTREAM) from None
    except APIError as exc:
        raise NatsError(f"JetStream refused to read {query.subject}: {exc.description}") from None
    except NatsClientError as exc:
        raise NatsError(f"cannot read {query.subject}: {str(exc).removeprefix('nats: ')}") from None
    return stream, subscription, held


async def read_log(options: NatsOptions, query: LogQuery) -> AsyncIterator[Entry]:
    """Yield the log's entries in order until ``stop_at_end`` or the caller stops."""
    from nats.errors import TimeoutError as NatsTimeout

    client = await connect(options)
    try:
        _, subscription, held = await _open(client.jetstream(), query)
        if query.stop_at_end and held == 0:
            return
        number = 0
        while True:
            try:
                msg = await subscription.next_msg(timeout=1.0 if query.stop_at_end else None)
            except NatsTimeout:
                if query.stop_at_end:
                    return  # nothing new within a second: caught up
                continue
            number += 1
            yield _entry(msg, query, number)
            if query.stop_at_end and msg.metadata.num_pending == 0:
                return
    finally:
        await client.close()
