"""The one thing pyproject.toml cannot say without an experimental table: a C extension.

binstream._framesplit is the websockets transport's frame parser in C. It is optional:
where no C compiler is at hand the install goes on without it and a Python parser that
takes exactly the same frames is used (binstream/_framesplit.c says what it takes).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("binstream._framesplit", ["binstream/_framesplit.c"], optional=True),
    ]
)
