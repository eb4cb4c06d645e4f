"""The one thing pyproject.toml cannot say without an experimental table: C extensions.

Both are optional: where no C compiler is at hand the install goes on without them and
Python code that does the same is used.

- binstream._framesplit: the websockets transport's frame parser (binstream/framesplit.py).
- binstream._linewrite: JSON lines written from the frames' text with writev(2), without
  the interpreter lock (binstream/render/jsonlines.py).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("binstream._framesplit", ["binstream/_framesplit.c"], optional=True),
        Extension("binstream._linewrite", ["binstream/_linewrite.c"], optional=True),
    ]
)
