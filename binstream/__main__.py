"""``python -m binstream``: the same as the ``binstream`` command."""

from .cli import main

main()
