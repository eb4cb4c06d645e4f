"""Output files that appear under their final name only once complete."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Protocol


class Closable(Protocol):
    """A file or writer: closing it completes what it wrote."""

    def close(self) -> None: ...


class PartialFiles:
    """Files written as ``.NAME.partial`` beside their final name, one per table."""

    def __init__(self) -> None:
        self.open: dict[str, tuple[Closable, Path, Path]] = {}
        #: The files completed, under their final names.
        self.files: list[Path] = []

    @staticmethod
    def paths(outdir: Path, table: str, name: str) -> tuple[Path, Path]:
        """The partial and final paths of ``name`` in ``table``'s folder (made if need be)."""
        folder = outdir / table
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f".{name}.partial", folder / name

    def finish(self) -> None:
        """Close every file and move it to its final name."""
        for handle, partial, final in self.open.values():
            handle.close()
            partial.replace(final)
            self.files.append(final)
        self.open.clear()

    def drop(self) -> None:
        """Close and delete every file begun: nothing half-written keeps a final name."""
        for handle, partial, _ in self.open.values():
            with contextlib.suppress(Exception):
                handle.close()
            partial.unlink(missing_ok=True)
        self.open.clear()
