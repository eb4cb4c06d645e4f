"""The demo account every local exchange knows, on every venue.

Not a secret: the keys work only against binstream's local exchange.
"""

DEMO_API_KEY = "binstreamDemoKey0000000000000000000000000000000000000000000000DEMO"
DEMO_API_SECRET = "binstreamDemoSecret000000000000000000000000000000000000000000DEMO"
