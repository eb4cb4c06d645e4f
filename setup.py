"""The one thing pyproject.toml cannot say without an experimental table: C extensions.

Both are optional: where no C compiler is at hand the install goes on without them and
Python code that does the same is used.

- binstream.transport._framesplit: the websockets transport's frame parser
  (binstream/transport/framesplit.py).
- binstream._sbe: Binance's SBE stream frames decoded to dicts (binstream/sbe.py).
- binstream.cli.render._linewrite: JSON lines written from the frames' text with writev(2), without
  the interpreter lock (binstream/cli/render/jsonlines.py).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "binstream.transport._framesplit", ["binstream/transport/_framesplit.c"], optional=True
        ),
        Extension("binstream._sbe", ["binstream/_sbe.c"], optional=True),
        Extension(
            "binstream.cli.render._linewrite", ["binstream/cli/render/_linewrite.c"], optional=True
        ),
    ]
)
