"""The asyncio engine: links, sockets, sessions and :class:`BinanceSocketManager`."""
