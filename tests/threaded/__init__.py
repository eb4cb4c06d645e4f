"""Tests of ThreadedWebsocketManager, against the local exchange."""
