"""The JetStream stream binstream publishes into: created when missing, checked when not.

Only settings asked for are checked against an existing stream: a second publisher that
names none joins whatever the first one created. Missing settings take the defaults
below when binstream creates the stream.

Example::

    >>> s = StreamSettings("BINANCE", "binance", max_age=3600.0, replicas=3)
    >>> s.differences({"subjects": ["binance.>"], "retention": "limits", "max_age": 86400.0,
    ...                "num_replicas": 3, "duplicate_window": 120.0, "storage": "file"})
    ['max age is 1d, not 1h']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import NatsError, StreamConflictError
from .durations import format_duration

RETENTIONS = ("limits", "interest", "workqueue")
STORAGES = ("file", "memory")
DEFAULT_MAX_AGE = 86400.0
DEFAULT_DUPLICATE_WINDOW = 120.0
NO_JETSTREAM = "this NATS server has no JetStream: start it with -js (nats-server -js)"


@dataclass(frozen=True)
class StreamSettings:
    """A JetStream stream for ``<prefix>.>``; ``None`` means "whatever it is"."""

    name: str = "BINANCE"
    prefix: str = "binance"
    retention: str | None = None
    max_age: float | None = None  # seconds; 0 keeps messages forever
    replicas: int | None = None
    duplicate_window: float | None = None
    storage: str | None = None

    @property
    def subject(self) -> str:
        """The subjects the stream must capture."""
        return f"{self.prefix}.>"

    def differences(self, existing: dict[str, Any]) -> list[str]:
        """How ``existing`` (a stream config as a dict) differs from what was asked for."""
        found: list[str] = []
        subjects = existing.get("subjects") or []
        if self.subject not in subjects and ">" not in subjects:
            found.append(f"it captures {', '.join(subjects) or 'no subjects'}, not {self.subject}")
        wanted: list[tuple[str, str, Any, Any]] = [
            ("retention", "retention", self.retention, existing.get("retention")),
            ("replicas", "num_replicas", self.replicas, existing.get("num_replicas")),
            ("storage", "storage", self.storage, existing.get("storage")),
        ]
        for label, _, asked, have in wanted:
            if asked is not None and str(asked) != str(have):
                found.append(f"{label} is {have}, not {asked}")
        for label, asked, have in (
            ("max age", self.max_age, float(existing.get("max_age") or 0)),
            (
                "duplicate window",
                self.duplicate_window,
                float(existing.get("duplicate_window") or 0),
            ),
        ):
            if asked is not None and abs(asked - have) > 0.001:
                found.append(f"{label} is {format_duration(have)}, not {format_duration(asked)}")
        return found

    def config(self) -> Any:
        """The ``nats.js.api.StreamConfig`` to create the stream with."""
        from nats.js.api import RetentionPolicy, StorageType, StreamConfig

        return StreamConfig(
            name=self.name,
            subjects=[self.subject],
            retention=RetentionPolicy(self.retention or "limits"),
            max_age=self.max_age if self.max_age is not None else DEFAULT_MAX_AGE,
            num_replicas=self.replicas or 1,
            duplicate_window=(
                self.duplicate_window
                if self.duplicate_window is not None
                else DEFAULT_DUPLICATE_WINDOW
            ),
            storage=StorageType(self.storage or "file"),
        )


def _as_dict(config: Any) -> dict[str, Any]:
    out = {}
    for key in ("subjects", "max_age", "num_replicas", "duplicate_window"):
        out[key] = getattr(config, key, None)
    for key in ("retention", "storage"):
        value = getattr(config, key, None)
        out[key] = getattr(value, "value", value)
    return out


async def ensure_stream(js: Any, settings: StreamSettings, *, wait: float = 10.0) -> str:
    """Create the stream, or check the one there; return ``"created"`` or ``"exists"``.

    Raises :class:`StreamConflictError` (differing settings) or :class:`NatsError` (no
    JetStream, or it did not answer within ``wait`` seconds: a cluster still electing).
    """
    import asyncio

    from nats.errors import NoRespondersError
    from nats.errors import TimeoutError as NatsTimeout
    from nats.js.errors import APIError, NotFoundError, ServiceUnavailableError

    deadline = asyncio.get_running_loop().time() + wait
    while True:
        try:
            try:
                info = await js.stream_info(settings.name)
            except NotFoundError:
                await js.add_stream(settings.config())
                return "created"
            problems = settings.differences(_as_dict(info.config))
            if problems:
                raise StreamConflictError(
                    f"JetStream stream {settings.name} exists with other settings: "
                    f"{'; '.join(problems)}. Publish with its settings, or name another "
                    "stream with --js-stream"
                )
            return "exists"
        except NoRespondersError:
            raise NatsError(NO_JETSTREAM) from None
        except ServiceUnavailableError as exc:
            if exc.description is None:  # nobody answers the JetStream API at all
                raise NatsError(NO_JETSTREAM) from None
            if asyncio.get_running_loop().time() >= deadline:
                raise NatsError(f"JetStream is unavailable: {exc.description}") from None
            await asyncio.sleep(0.2)
        except (TimeoutError, NatsTimeout) as exc:
            if asyncio.get_running_loop().time() >= deadline:
                raise NatsError(f"JetStream did not answer within {wait:g} s ({exc})") from None
            await asyncio.sleep(0.2)
        except APIError as exc:
            # A setting JetStream will not take (replicas beyond the cluster's size,
            # subjects another stream captures): the command line asked for it.
            hint = ""
            if "overlap" in str(exc.description):
                hint = (f" (another stream captures {settings.subject}: publish into it with "
                        "--js-stream, or use another --subject-prefix)")  # fmt: skip
            raise StreamConflictError(
                f"JetStream refused stream {settings.name}: {exc.description or exc}{hint}"
            ) from None
