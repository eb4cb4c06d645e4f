"""Publish Binance streams into NATS JetStream, and read them back.

``binstream publish`` and ``binstream consume`` on the command line;
:class:`~binstream.jetstream.publisher.JetStreamSink` from Python. The NATS client
(``nats-py``) is the optional extra ``binstream[nats]``: the pure parts here (subjects,
message ids, shards, the acknowledgement window) import nothing from it.
"""

from .identity import message_id
from .publisher import JetStreamSink, PublishStats
from .shards import Shard, parse_shard
from .streamconfig import StreamSettings
from .subjects import DEFAULT_PREFIX, stream_subject

__all__ = [
    "DEFAULT_PREFIX",
    "JetStreamSink",
    "PublishStats",
    "Shard",
    "StreamSettings",
    "message_id",
    "parse_shard",
    "stream_subject",
]
