"""python-binance's documented ThreadedWebsocketManager example, on binstream.

Run the local exchange first (``binstream serve --port 9000``), then::

    python examples/threaded_manager.py --endpoint ws://127.0.0.1:9000 --seconds 5

Without ``--endpoint`` it connects to Binance itself.
"""

from __future__ import annotations

import argparse

from binstream import ThreadedWebsocketManager

api_key = "<api_key>"
api_secret = "<api_secret>"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default=None, help="e.g. ws://127.0.0.1:9000")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()

    symbol = "BNBBTC"

    twm = ThreadedWebsocketManager(api_key=api_key, api_secret=api_secret, endpoint=args.endpoint)
    # start is required to initialise its internal loop
    twm.start()

    def handle_socket_message(msg: dict) -> None:
        print(f"message type: {msg['e']}")
        print(msg)

    twm.start_kline_socket(callback=handle_socket_message, symbol=symbol)

    # multiple sockets can be started
    depth_stream_name = twm.start_depth_socket(callback=handle_socket_message, symbol=symbol)

    # or a multiplex socket can be started like this
    # see Binance docs for stream names
    streams = ["bnbbtc@miniTicker", "bnbbtc@bookTicker"]
    twm.start_multiplex_socket(callback=lambda m: print(m["stream"], m["data"]), streams=streams)

    if args.seconds is None:
        twm.join()
    else:
        twm.join(timeout=args.seconds / 2)
        twm.stop_socket(depth_stream_name)  # stop one stream by name
        twm.join(timeout=args.seconds / 2)
        twm.stop()


if __name__ == "__main__":
    main()
