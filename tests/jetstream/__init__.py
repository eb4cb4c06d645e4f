"""Tests of the NATS JetStream sink, against a real nats-server."""
