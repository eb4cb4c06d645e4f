"""Tests of the local exchange: its REST, streams and WebSocket API, and peers' clients."""
