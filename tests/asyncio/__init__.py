"""Tests of the asyncio engine and BinanceSocketManager, against the local exchange."""
