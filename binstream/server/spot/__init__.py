"""The local exchange's spot venue: exchangeInfo, the WebSocket API, trading."""
