"""Which of binstream's optional fast parts are in use, said one way for ``--version`` and
the bench: the frame splitter, the JSON lines writer and the SBE decoder (C extensions,
else Python) and the frame check (msgspec, else orjson).

Example::

    >>> from binstream.cli.fastparts import describe
    >>> describe().startswith("frames split in ")
    True
"""

from __future__ import annotations

from ..framecheck import CHECKER
from ..sbe import SBE_DECODER
from ..transport.framesplit import SPLITTER
from .render.jsonlines import LINE_WRITER

_LANGUAGE = {"c": "C", "python": "Python"}


def describe() -> str:
    """``frames split in C, checked with msgspec, lines written in C`` or as the case is."""
    return (
        f"frames split in {_LANGUAGE[SPLITTER]}, checked with {CHECKER}, "
        f"lines written in {_LANGUAGE[LINE_WRITER]}, SBE decoded in {_LANGUAGE[SBE_DECODER]}"
    )


def all_compiled() -> bool:
    """True when every C extension was built (a checkout needs ``pip install -e .``)."""
    return SPLITTER == LINE_WRITER == SBE_DECODER == "c"
