"""The threaded manager: python-binance's callback API over the asyncio engine."""
