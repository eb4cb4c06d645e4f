"""Drive one socket from the command line: read, hand to an output, decide the exit code.

No argument parsing here (that is :mod:`binstream.cli`) and no protocol logic (that is
:mod:`binstream.asyncio.link`): this module turns a :class:`RunConfig` into messages on
stdout, notices on stderr and an :class:`~binstream.cli.exitcodes.ExitCode`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import math
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import orjson

from ..asyncio.manager import BinanceSocketManager
from ..asyncio.options import ReconnectPolicy, SocketOptions, SocketState, StatusEvent
from ..asyncio.stream_socket import recv_batch
from ..errors import ReceiveTimeoutError, StreamClosedError
from ..messages import CLOSED, FINAL, INVALID_MESSAGE, error_message, is_error
from ..sbe import SbeError, event_stream, fast_count_events, fast_decode, fast_json_lines
from ..venues import Market, market_value
from .exitcodes import ExitCode
from .metrics import start_metrics
from .render.notices import Notices
from .render.status import StatusLine

if TYPE_CHECKING:
    from ..jetstream.publisher import JetStreamSink
    from ..metrics import MetricsServer
    from ..recording import Entry


@dataclass
class RunConfig:
    """What one streaming command asked for."""

    streams: list[str]
    combined: bool = False
    tld: str = "com"
    testnet: bool = False
    endpoint: str | None = None  # the market's own base URL
    market: str = "spot"
    format: Literal["json", "table"] = "json"
    view: str = "streams"
    count: int | None = None
    timeout: float | None = None
    retries: float = 5
    quiet: bool = False
    errors: Literal["text", "json"] = "text"
    overflow: Literal["block", "drop_oldest"] = "block"
    stall_timeout: float | None = None
    #: Check stream symbols against exchangeInfo before subscribing.
    check_symbols: bool = True
    #: Seconds after which a stream without a cadence counts as silent (None: never).
    silence: float | None = None
    transport: str | None = None  # None: $BINSTREAM_TRANSPORT, else auto
    backoff_base: float = 0.2
    status_live: bool | None = None
    view_options: dict[str, Any] = field(default_factory=dict)
    book: dict[str, Any] | None = None  # BookSocket options: symbol, levels, check_interval
    record_to: Any = None  # a Path: write a recording instead of printing
    rotate_bytes: int | None = None
    rotate_seconds: float | None = None
    #: Record diff-depth streams' REST snapshots at the start and after every gap.
    snapshots: bool = True
    #: Convert each finished recording file (or rotated segment) in the background:
    #: ("parquet" or "tardis-csv", the output folder).
    convert: tuple[str, Any] | None = None
    events: bool = False  # lifecycle events as JSON lines on stderr
    control: bool = False  # read +STREAM / -STREAM / ? commands from stdin
    credentials: Any = None  # set for the user data stream
    #: A futures, options or margin account stream: {"method": the manager's method,
    #: "api_key", "args", "options"} (see ``cli.account.account_request``).
    account: dict[str, Any] | None = None
    logon: bool = False
    recv_window: int | None = None
    #: Binance's SBE streams (``--sbe``): the API key sent, and the SBE host's base URL
    #: when ``--endpoint`` named one.
    sbe: bool = False
    sbe_key: str | None = None
    sbe_endpoint: str | None = None
    #: ``HOST:PORT`` to serve Prometheus metrics on (``--metrics``).
    metrics: str | None = None
    #: Publish into NATS JetStream instead of printing: JetStreamSink's keyword arguments.
    publish: dict[str, Any] | None = None


_FRAMES_ONLY = {str}
_SBE_FRAMES_ONLY = {bytes}


class Output(Protocol):
    def feed(self, messages: list[Any]) -> None: ...

    async def wait_for_room(self) -> None: ...

    async def close(self) -> None: ...


class _TableOutput:
    """A rich Live view on stdout, redrawn at most 10 times a second."""

    def __init__(
        self,
        view_name: str,
        status: StatusLine,
        options: dict[str, Any],
        default_stream: str | None = None,
    ) -> None:
        from rich.console import Console
        from rich.live import Live

        from .render.tables import VIEWS, View

        self.console = Console()
        if view_name == "candles":
            from .render.candles import CandleChart

            self.view: View = CandleChart(**options)
        else:
            self.view = VIEWS[view_name](**options)
        self.view.default_stream = default_stream
        self.status = status
        self.live = Live(self.view, console=self.console, auto_refresh=False, redirect_stderr=False)
        self.live.start()
        self._last_draw = 0.0

    def feed(self, messages: list[Any]) -> None:
        update = self.view.update
        for message in messages:
            update(message)
        now = time.monotonic()
        if now - self._last_draw >= 0.1:
            self._last_draw = now
            self.view.caption = self.status.text()
            self.live.refresh()

    async def wait_for_room(self) -> None:
        return None

    async def close(self) -> None:
        self.view.caption = self.status.text()
        self.live.refresh()
        self.live.stop()
        if not self.console.is_terminal:
            self.console.line()


#: Fetches the REST depth snapshot of a diff-depth stream: its body as the server sent it.
SnapshotFetcher = Callable[[str], Awaitable[str]]


class _RecordOutput:
    """Writes frames as received, with receive times, to a recording file.

    Encoding, compression (zstd releases the GIL) and the file writes run on a thread of
    their own, so the event loop only stamps each batch and hands it over; gaps and
    snapshots go the same way, in order. Every second the writer hands what it has to the
    operating system. Diff-depth streams are checked for skipped update ids (a gap record
    naming the stream and the ids), and with ``fetch_snapshot`` their REST snapshot is
    recorded at the start and after every gap or dropped connection.
    """

    def __init__(
        self,
        config: RunConfig,
        loop: asyncio.AbstractEventLoop,
        fetch_snapshot: SnapshotFetcher | None = None,
        on_notice: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        from ..asyncio.handoff import Handoff
        from ..continuity import DepthContinuity, is_diff_depth
        from ..recording import RecordingWriter

        self.combined = config.combined or len(config.streams) > 1
        self.converting: concurrent.futures.ThreadPoolExecutor | None = None
        self.convert = config.convert
        if self.convert is not None:
            self.converting = concurrent.futures.ThreadPoolExecutor(
                1, thread_name_prefix="binstream-convert"
            )
        self.on_notice = on_notice
        self.loop = loop
        self.writer = RecordingWriter(
            config.record_to,
            config.streams,
            self.combined,
            rotate_bytes=config.rotate_bytes,
            rotate_seconds=config.rotate_seconds,
            market=config.market,
            on_finished=self._finished if self.convert is not None else None,
            sbe=config.sbe,
        )
        self.depth_streams = {name for name in config.streams if is_diff_depth(name)}
        self.continuity = DepthContinuity()
        self.fetch_snapshot = fetch_snapshot if self.depth_streams else None
        self._fetching: dict[str, asyncio.Task[None]] = {}
        #: Gaps recorded: lost connections and skipped update ids (for ``--metrics``).
        self.gaps = 0
        # Items are (time, frames), (time, gap reason, streams), (time, stream, snapshot
        # body) and (time, None) for a flush: a few batches in flight.
        self.handoff = Handoff("binstream-record", self._write, loop, high=8)
        self._flusher = loop.create_task(self._flush_every_second())

    def _finished(self, path: Any) -> None:
        """A recording file is complete: convert it in the background."""
        assert self.converting is not None and self.convert is not None
        self.converting.submit(self._convert, path)

    def _convert(self, path: Any) -> None:
        from ..export import convert

        assert self.convert is not None
        to, outdir = self.convert
        try:
            convert([path], to, outdir)  # type: ignore[arg-type]
        except Exception as exc:  # a bad segment must not stop the recording
            if self.on_notice is not None:
                text = f"converting {path} failed: {exc}"
                with contextlib.suppress(RuntimeError):
                    self.loop.call_soon_threadsafe(
                        self.on_notice, f"binstream: {text}",
                        {"e": "status", "status": "convert_failed", "m": text},
                    )  # fmt: skip

    async def _flush_every_second(self) -> None:
        from ..recording import FLUSH_INTERVAL

        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            self.handoff.feed([(time.time(), None)])

    def _write(self, items: list[tuple[Any, ...]]) -> None:
        writer = self.writer
        for item in items:
            received, what = item[0], item[1]
            if what is None:
                writer.flush_if_due()
            elif type(what) is list:
                files = len(writer.files)
                writer.write_frames(what, received)
                if self.depth_streams:
                    self._check_depth(what, received)
                    if len(writer.files) != files and self.fetch_snapshot is not None:
                        for name in self.depth_streams:  # a new segment gets its own snapshots
                            self.loop.call_soon_threadsafe(self._snapshot, name)
            elif len(item) == 3 and type(item[2]) is tuple:  # a dropped connection
                writer.write_gap(what, received)
                for name in item[2]:
                    if name in self.depth_streams:
                        self.continuity.reset(name)
            else:
                writer.write_snapshot(what, item[2], received)

    def _check_depth(self, frames: list[str], received: float) -> None:
        """On the writer thread: each diff-depth event's ids against its stream's last."""
        single = None if self.combined else next(iter(self.depth_streams))
        for frame in frames:
            if type(frame) is bytes:  # SBE: a diff-depth event carries the same ids
                try:
                    events = fast_decode(frame)
                except SbeError:
                    continue
                if not events or events[0].get("e") != "depthUpdate":
                    continue
                event = events[0]
                name = event_stream(event)
            elif '"depthUpdate"' not in frame:
                continue
            else:
                message = orjson.loads(frame)
                if single is None:
                    name, event = message.get("stream"), message.get("data")
                else:
                    name, event = single, message
            if name not in self.depth_streams or not isinstance(event, dict):
                continue
            fresh = name not in self.continuity.last
            try:
                missing = self.continuity.check(
                    name, int(event["U"]), int(event["u"]),
                    int(event["pu"]) if "pu" in event else None,
                )  # fmt: skip
            except (KeyError, TypeError, ValueError):
                continue
            if missing is not None:
                self.gaps += 1
                self.writer.write_gap("update ids skipped", received, stream=name,
                                      missing=missing)  # fmt: skip
                if self.on_notice is not None:
                    text = f"{name} skipped update ids {missing[0]}-{missing[1]}"
                    event_json = {"e": "status", "status": "gap", "m": text, "stream": name,
                                  "missing": list(missing)}  # fmt: skip
                    self.loop.call_soon_threadsafe(self.on_notice, f"binstream: {text}",
                                                   event_json)  # fmt: skip
            if (fresh or missing is not None) and self.fetch_snapshot is not None:
                self.loop.call_soon_threadsafe(self._snapshot, name)

    def _snapshot(self, name: str) -> None:
        """On the loop: fetch ``name``'s REST snapshot unless a fetch is under way."""
        task = self._fetching.get(name)
        if task is None or task.done():
            self._fetching[name] = self.loop.create_task(self._fetch(name))

    async def _fetch(self, name: str) -> None:
        from ..errors import RestError

        assert self.fetch_snapshot is not None
        for attempt in range(3):
            try:
                body = await self.fetch_snapshot(name)
            except RestError as exc:
                if attempt == 2:
                    if self.on_notice is not None:
                        text = f"no snapshot of {name} ({exc}); the next gap tries again"
                        self.on_notice(f"binstream: {text}",
                                       {"e": "status", "status": "snapshot_failed", "m": text,
                                        "stream": name})  # fmt: skip
                    return
                await asyncio.sleep(2**attempt)
            else:
                self.handoff.feed([(time.time(), name, body)])
                return

    def feed(self, messages: list[Any]) -> None:
        self.handoff.feed([(time.time(), messages)])

    def gap(self, reason: str, streams: tuple[str, ...]) -> None:
        """Record a gap after what was fed so far; a diff-depth stream among ``streams``
        gets a new snapshot once its events flow again."""
        self.gaps += 1
        self.handoff.feed([(time.time(), reason, tuple(streams))])

    async def wait_for_room(self) -> None:
        await self.handoff.wait_for_room()

    async def close(self) -> None:
        self._flusher.cancel()
        for task in self._fetching.values():
            task.cancel()
        await self.handoff.drain(30.0)
        self.handoff.close()
        self.writer.close()
        if self.converting is not None:  # the last file's conversion finishes first
            await asyncio.to_thread(self.converting.shutdown)


async def run_replay(
    path: Any, *, speed: float | None, loop: bool, format: str, view: str, count: int | None,
    quiet: bool, errors: str = "text",
) -> ExitCode:  # fmt: skip
    """Print a recording like a live stream: JSON lines of the frames, or a live table."""
    from ..asyncio.replay import replay_entries

    async def entries() -> AsyncIterator[Entry]:
        async for _, entry in replay_entries(path, speed, loop):
            yield entry

    return await run_entries(entries(), format=format, view=view, count=count, quiet=quiet,
                             errors=errors, source="the recording")  # fmt: skip


async def run_book_replay(
    path: Any, symbol: str, *, levels: int, format: str, count: int | None, quiet: bool,
    errors: str = "text",
) -> ExitCode:  # fmt: skip
    """Rebuild ``symbol``'s book from a recording and print it as ``binstream book`` does."""
    from ..book_replay import BookReplay, book_stream, rebuild_book
    from ..recording import Entry, read_recording

    header, entries = read_recording(path)
    state = BookReplay(book_stream(header, symbol), symbol)

    async def views() -> AsyncIterator[Entry]:
        for entry in rebuild_book(header, entries, symbol, levels, state):
            yield entry
        if not state.snapshots:
            yield Entry(0.0, notice=(
                f"{path} holds no snapshot of {state.stream}: the book cannot be rebuilt "
                "(record it with --snapshots, the default)"))  # fmt: skip

    code = await run_entries(views(), format=format, view="book", count=count, quiet=quiet,
                             errors=errors, source="the recording",
                             view_options={"levels": levels})  # fmt: skip
    return code if state.snapshots else ExitCode.FAILURE


async def run_entries(
    entries: AsyncIterator[Entry], *, format: str, view: str = "streams",
    count: int | None = None, quiet: bool = False, errors: str = "text", source: str = "the log",
    view_options: dict[str, Any] | None = None, metrics: str | None = None,
) -> ExitCode:  # fmt: skip
    """Print entries (a recording's, a JetStream log's) as a live stream prints: JSON lines
    of the frames or a live table; gaps are notices on stderr. ``metrics``: serve the
    count read and the gaps met at ``HOST:PORT``."""
    config = RunConfig(streams=[], format=format, view=view, count=count, quiet=quiet,  # type: ignore[arg-type]
                       errors=errors, view_options=view_options or {})  # type: ignore[arg-type]  # fmt: skip
    run = _Run(config)
    run.status.state = "reading"
    output = run.make_output(asyncio.get_running_loop())
    remaining = count
    gaps = 0
    if metrics is not None:

        def measure(server: MetricsServer) -> None:
            server.add_consumed(lambda: run.status.received)
            server.add_gaps(lambda: gaps)

        run.metrics = start_metrics(metrics, run.notices.say, measure)
    try:
        async for entry in entries:
            if run.stop.is_set():
                break
            if entry.gap is not None:
                event: dict[str, Any] = {"e": "status", "status": "gap", "m": entry.gap}
                if entry.stream is not None:
                    event["stream"] = entry.stream
                if entry.missing is not None:
                    event["missing"] = list(entry.missing)
                gaps += 1
                run.notices.say(f"binstream: gap in {source}: {entry.gap_text()}", event)
                continue
            if entry.notice is not None:
                run.notices.say(
                    f"binstream: {entry.notice}",
                    {"e": "status", "status": "truncated", "m": entry.notice},
                )
                continue
            if entry.snapshot:  # the book's REST snapshot: data for `book --replay`
                continue
            if entry.binary is not None:  # an SBE frame: its events, as live
                try:
                    messages = entry.messages()
                except SbeError as exc:
                    run.notices.say(f"binstream: line {entry.line}: {exc}",
                                    {"e": "error", "type": "SbeError", "m": str(exc)})  # fmt: skip
                    continue
            else:
                messages = [entry.frame if format == "json" else entry.decoded()]
            if remaining is not None:
                messages = messages[:remaining]
                remaining -= len(messages)
            output.feed(messages)
            run.status.received += len(messages)
            if remaining == 0:
                break
            await output.wait_for_room()
    finally:
        with contextlib.suppress(Exception):
            await entries.aclose()  # type: ignore[attr-defined]
        await output.close()
        if run.metrics is not None:
            run.metrics.stop()
        run.status.clear()
    return ExitCode.OK


class _Run:
    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.status = StatusLine(
            live=(False if config.quiet or config.format == "table" else config.status_live)
        )
        self.stop = asyncio.Event()
        self.broken_pipe = False
        self.gave_up: dict[str, Any] | None = None
        #: The output that records where messages may be missing (a recording, JetStream).
        self.gap_output: _RecordOutput | JetStreamSink | None = None
        self.manager: BinanceSocketManager | None = None
        self.sink: JetStreamSink | None = None
        #: The streams of each dropped connection, in the order the drops are reported.
        self._dropped_streams: deque[tuple[str, tuple[str, ...]]] = deque(maxlen=64)
        self.notices = Notices(self.status, config.errors, config.quiet)
        self.metrics: MetricsServer | None = None
        #: SBE events are wrapped as ``{"stream", "data"}`` (several streams).
        self.sbe_combined = config.combined or len(config.streams) > 1

    def _measure(self, metrics: MetricsServer) -> None:
        """The sources ``--metrics`` reads: the sockets, the publisher, the recording."""
        manager = self.manager
        if manager is not None:
            metrics.add_sockets(lambda: manager.sockets.values())
        if self.sink is not None:
            sink = self.sink
            metrics.add_publisher(lambda: sink)
        output = self.gap_output
        if isinstance(output, _RecordOutput):
            metrics.add_gaps(lambda: output.gaps)

    def on_status(self, event: StatusEvent) -> None:
        """One notice per connection event: a drop with its retry, a reconnect, a rotation."""
        self.status.state = event.state.value
        say = self.notices.say
        if event.state is SocketState.RECONNECTING:
            self.status.reconnects += 1
            budget = self.config.retries
            total = "∞" if math.isinf(budget) else f"{budget:g}"
            retry = {"retry": event.attempt, "retries": None if math.isinf(budget) else budget,
                     "delay": round(event.delay, 3)}  # fmt: skip
            as_json: dict[str, Any] = (
                {"e": "error", "type": CLOSED, "m": event.detail, **retry}
                if event.kind == "dropped"
                else {"e": "status", "status": "reconnecting", "m": event.detail, **retry}
            )
            say(f"binstream: {event.detail}; retry {event.attempt}/{total} in {event.delay:.1f} s",
                as_json)  # fmt: skip
            if event.kind == "dropped":
                self._dropped_streams.append((event.detail, event.streams))
        elif event.kind == "silent":
            notice = {"e": "status", "status": "silent", "m": event.detail,
                      "streams": list(event.streams)}  # fmt: skip
            say(f"binstream: {event.detail}", notice)
        elif event.kind == "renewed":
            say(f"binstream: {event.detail}", {"e": "status", "status": "renewed",
                                               "m": event.detail})  # fmt: skip
        elif event.kind == "rotated":
            why = event.detail.removeprefix("rotated: ")
            say(f"binstream: {why}; switched to a new connection",
                {"e": "status", "status": "rotated", "m": why})  # fmt: skip
        elif event.state is SocketState.OPEN and self.status.reconnects:
            say("binstream: reconnected", {"e": "status", "status": "reconnected"})

    def report(self, error: dict[str, Any]) -> None:
        """An error dict from the socket: counted, and said unless a status event did."""
        kind = str(error.get("type"))
        if kind in FINAL:
            self.gave_up = error
            return  # said once, at exit
        if kind == CLOSED:  # said with its retry by on_status
            if self.gap_output is not None:
                detail = str(error.get("m"))
                self.gap_output.gap(detail, self._streams_of_drop(detail))
            return
        if kind == INVALID_MESSAGE:
            self.status.invalid += 1
        self.notices.say(f"binstream: {error.get('m')}", error)

    def _say_published(self, sink: JetStreamSink) -> None:
        stats = sink.stats
        text = (f"published to JetStream: {stats.stored:,} stored, {stats.duplicates:,} already "
                f"there, {stats.resent:,} sent again, {stats.dropped:,} dropped, "
                f"{stats.gaps:,} gap markers")  # fmt: skip
        self.notices.say(f"binstream: {text}",
                         {"e": "status", "status": "published", "m": text, "stored": stats.stored,
                          "duplicates": stats.duplicates, "resent": stats.resent,
                          "dropped": stats.dropped, "gaps": stats.gaps})  # fmt: skip

    def _streams_of_drop(self, detail: str) -> tuple[str, ...]:
        """The streams of the connection whose drop said ``detail`` (all, if unknown)."""
        while self._dropped_streams:
            said, streams = self._dropped_streams.popleft()
            if said == detail and streams:
                return streams
        return tuple(self.config.streams)

    def _snapshot_fetcher(self) -> SnapshotFetcher | None:
        """How a recording fetches a diff-depth stream's REST snapshot (None: it does not)."""
        if not self.config.snapshots or self.manager is None:
            return None
        from ..asyncio.rest import depth_snapshot_text
        from ..venues import VENUES

        market = market_value(self.config.market)
        venue = VENUES[market]
        rest = self.manager.endpoints_for(market).rest

        async def fetch(stream: str) -> str:
            symbol = stream.split("@", 1)[0]
            return await depth_snapshot_text(rest, symbol, venue.snapshot_limit, 10.0,
                                             venue.rest_prefix)  # fmt: skip

        return fetch

    def make_output(self, loop: asyncio.AbstractEventLoop) -> Output:
        config = self.config
        if config.record_to is not None:

            def notice(text: str, event: dict[str, Any]) -> None:
                self.notices.say(text, event)

            return _RecordOutput(config, loop, self._snapshot_fetcher(), notice)
        if config.publish is not None:
            from ..jetstream.publisher import JetStreamSink
            from ..jetstream.subjects import SBE_SUBJECT_MARKET

            def notice(text: str, event: dict[str, Any]) -> None:
                self.notices.say(text, event, final=event.get("e") == "error")

            overflow: Literal["block", "drop"] = (
                "drop" if config.overflow == "drop_oldest" else "block"
            )
            market = SBE_SUBJECT_MARKET if config.sbe else config.market
            self.sink = JetStreamSink(
                **config.publish, market=market, overflow=overflow, on_notice=notice
            )
            self.status.extra = self.sink.summary
            return self.sink
        if config.format == "table":
            single = config.streams[0] if len(config.streams) == 1 else None
            return _TableOutput(config.view, self.status, config.view_options, single)
        from .render.jsonlines import JsonLinesWriter

        def broken() -> None:
            self.broken_pipe = True
            loop.call_soon_threadsafe(self.stop.set)

        return JsonLinesWriter(loop, sys.stdout.fileno(), on_broken_pipe=broken,
                               sbe_combined=self.sbe_combined)  # fmt: skip

    async def consume(self, socket: Any, output: Output) -> ExitCode:
        remaining = self.config.count
        status = self.status
        while True:
            try:
                batch = await recv_batch(socket, 4096)
            except ReceiveTimeoutError:
                text = f"no message within {self.config.timeout:g}s (--timeout)"
                self.notices.say(f"binstream: {text}",
                                 {"e": "error", "type": "BinstreamTimeout", "m": text},
                                 final=True)  # fmt: skip
                return ExitCode.TIMEOUT
            except StreamClosedError:
                return ExitCode.FAILURE if self.gave_up else ExitCode.OK
            kinds = set(map(type, batch))
            #: Messages in ``data`` when it is not one per item (SBE frames: their events).
            events: int | None = None
            if kinds == _FRAMES_ONLY:
                data = batch  # frame texts only: no error dict among them
            elif kinds == _SBE_FRAMES_ONLY and self.sink is not None:
                data = self._sbe_lines(batch)  # published as JSON, one message per event
            elif kinds == _SBE_FRAMES_ONLY and not isinstance(output, _RecordOutput):
                # Checked and counted here; the writer's thread renders them as JSON lines
                # (in C, without the interpreter lock) while this loop reads on.
                try:
                    events = fast_count_events(batch)
                except SbeError:
                    data = self._sbe_lines(batch)
                else:
                    data = batch
                    if remaining is not None and events > remaining:
                        events = None
                        data = self._sbe_lines(batch)  # the last batch of -n: cut by events
            elif kinds == _SBE_FRAMES_ONLY:
                data = batch  # a recording keeps the frames
            else:
                data = []
                for message in batch:
                    if type(message) is bytes and not isinstance(output, _RecordOutput):
                        data += self._sbe_lines([message])
                    elif type(message) is not str and is_error(message):
                        self.report(message)
                    else:
                        data.append(message)
            if remaining is not None and events is None:
                data = data[:remaining]
            count = len(data) if events is None else events
            if remaining is not None:
                remaining -= count
            if data:
                output.feed(data)
                status.received += count
                status.dropped = socket.dropped
            if remaining == 0:
                return ExitCode.OK
            await output.wait_for_room()

    def _sbe_lines(self, frames: list[bytes]) -> list[str]:
        """SBE frames as the JSON lines of their events (one per trade), written in C; a
        frame that is not of the schema is reported and skipped."""
        try:
            text = fast_json_lines(frames, self.sbe_combined)
        except SbeError:
            parts = []
            for frame in frames:
                try:
                    parts.append(fast_json_lines([frame], self.sbe_combined))
                except SbeError as exc:
                    self.report(error_message(INVALID_MESSAGE,
                                              f"skipped invalid message ({exc})"))  # fmt: skip
            text = b"".join(parts)
        return text.decode().split("\n")[:-1]

    async def ticker(self, socket: Any = None) -> None:
        next_notice = 0.0
        reported_drops = 0
        while True:
            await asyncio.sleep(0.25)
            self.status.draw()
            buffer = getattr(socket, "buffer", None)
            if buffer is None or self.status.live:
                continue
            # Without a live status line, say (at most every 5 s) that output falls behind.
            now = time.monotonic()
            if now < next_notice:
                continue
            if buffer.dropped > reported_drops:
                reported_drops = buffer.dropped
                text = (f"output is behind the feed: {buffer.dropped:,} messages dropped so far "
                        "(--overflow drop)")  # fmt: skip
                self.notices.say(f"binstream: {text}",
                                 {"e": "status", "status": "behind", "m": text,
                                  "dropped": buffer.dropped})  # fmt: skip
                next_notice = now + 5.0
            elif buffer.overflow == "block" and len(buffer) >= buffer.maxsize:
                text = ("output is behind the feed: reading paused until it catches up "
                        "(--overflow block loses nothing)")  # fmt: skip
                self.notices.say(f"binstream: {text}",
                                 {"e": "status", "status": "behind", "m": text})  # fmt: skip
                next_notice = now + 5.0

    async def run(self) -> ExitCode:
        config = self.config
        market = market_value(config.market)
        spot = market is Market.SPOT
        manager = BinanceSocketManager(
            tld=config.tld,
            testnet=config.testnet,
            endpoint=config.endpoint if spot else None,
            endpoints=(
                {market.value: config.endpoint}
                if config.endpoint and not spot
                else {"sbe": config.sbe_endpoint}
                if config.sbe_endpoint
                else None
            ),
            api_key=config.account["api_key"] if config.account else config.sbe_key,
            transport=config.transport,
            options=SocketOptions(
                user_timeout=config.timeout,
                overflow=config.overflow,
                reconnect=ReconnectPolicy(
                    max_retries=config.retries, backoff_base=config.backoff_base
                ),
                stall_timeout=config.stall_timeout,
                check_symbols=config.check_symbols,
                silence=config.silence,
                stream_stats=config.metrics is not None,
                on_status=self.on_status,
                # JSON lines of exactly what Binance sent: no decode-and-re-encode round trip.
                # (SBE: the binary frames, written as JSON lines in C by the writer)
                raw_frames=config.format == "json" and config.book is None,
            ),
        )
        self.manager = manager
        socket: Any
        if config.book is not None:
            socket = manager.book_socket(**config.book, market=market)
        elif config.account is not None:
            account = config.account
            open_account = getattr(manager, account["method"])
            socket = open_account(*account["args"], **account["options"])
        elif config.credentials is not None:
            socket = manager.user_socket(
                credentials=config.credentials, logon=config.logon, recv_window=config.recv_window
            )
        elif config.sbe:  # a recording keeps the binary frames exactly
            socket = manager.sbe_socket(config.streams, raw=config.record_to is not None)
        else:
            socket = manager.socket(config.streams, market, combined=config.combined)
        if config.check_symbols and config.book is not None:
            await manager.check_symbols([f"{config.book['symbol']}@depth"], market)
        elif config.check_symbols and config.account is None and config.credentials is None:
            await socket.check_symbols()  # before any output is made (a recording, a sink)
        loop = asyncio.get_running_loop()
        output = self.make_output(loop)
        if isinstance(output, _RecordOutput):
            self.gap_output = output
        if config.metrics is not None:
            self.metrics = start_metrics(config.metrics, self.notices.say, self._measure)
        if self.sink is not None:
            self.gap_output = self.sink
            await self.sink.start()
            count = len(config.streams)
            text = (f"publishing {count} stream{'s' if count != 1 else ''} to "
                    f"{self.sink.options.shown()}, JetStream stream {self.sink.settings.name} "
                    f"({self.sink.stream_outcome})")  # fmt: skip
            self.notices.say(f"binstream: {text}",
                             {"e": "status", "status": "publishing", "m": text, "streams": count,
                              "js_stream": self.sink.settings.name})  # fmt: skip
        ticker = asyncio.create_task(self.ticker(socket))
        if config.events:
            socket.add_event_callback(
                lambda event: self.status.notice(orjson.dumps(event.as_dict()).decode())
            )
        helpers = [ticker]
        code = ExitCode.FAILURE
        try:
            async with socket:
                if config.control:
                    from .control import run_control

                    def say(text: str, event: dict[str, Any], final: bool) -> None:
                        self.notices.say(text, event, final=final)

                    helpers.append(asyncio.create_task(run_control(socket, say)))
                consumer = asyncio.create_task(self.consume(socket, output))
                stopper = asyncio.create_task(self.stop.wait())
                try:
                    await asyncio.wait({consumer, stopper}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    stopper.cancel()
                if consumer.done():
                    code = consumer.result()
                else:
                    consumer.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await consumer
                    code = ExitCode.OK  # the reader closed the pipe: a normal end
        finally:
            for helper in helpers:
                helper.cancel()
            await output.close()
            if self.metrics is not None:
                self.metrics.stop()
            if self.sink is not None:
                self._say_published(self.sink)
            self.status.clear()
        if self.sink is not None and self.sink.unacknowledged_at_close and code is ExitCode.OK:
            code = ExitCode.FAILURE
        if self.gave_up and code is not ExitCode.OK:
            self.notices.say(f"binstream: gave up: {self.gave_up.get('m')}", self.gave_up,
                             final=True)  # fmt: skip
            return ExitCode.FAILURE
        return code


async def run_stream(config: RunConfig) -> ExitCode:
    """Stream as ``config`` says until done; return the exit code."""
    return await _Run(config).run()
