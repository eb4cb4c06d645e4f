"""WebSocket API of the local exchange (user data stream). Filled in by the user-stream work."""

from __future__ import annotations

from typing import Any

from websockets.asyncio.server import ServerConnection


class UserDataService:
    """Placeholder: answers every request with Binance's 'unknown method' error."""

    def __init__(self, exchange: Any, accounts: Any = None) -> None:
        self.exchange = exchange

    def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def on_step(self, steps: Any) -> None:
        pass

    async def handle(self, ws: ServerConnection) -> None:
        await ws.close(1008, "WebSocket API not available")
