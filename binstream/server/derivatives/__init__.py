"""The local exchange's derivatives venues: USD-M, COIN-M and options."""
