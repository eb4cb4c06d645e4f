"""Tests of the transports: both websocket libraries behind one seam, against raw servers."""
