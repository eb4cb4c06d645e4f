"""The command pauses the garbage collector while it starts, never for good."""

from __future__ import annotations

import gc

from binstream import cli
from binstream.cli import gcpause


def test_the_command_collects_again_once_its_event_loop_runs() -> None:
    """A long run (``serve``, a day of ``trade``) must not go on with the collector off."""

    async def collector_on() -> int:
        return 0 if gc.isenabled() else 1

    gcpause.pause()
    try:
        assert not gc.isenabled()
        assert cli.run(collector_on()) == 0
        assert gc.isenabled()
    finally:
        gcpause.resume()
        gc.enable()
        gc.unfreeze()


def test_a_collector_already_off_is_left_off() -> None:
    """An embedding program that turned it off itself keeps it off."""
    gc.disable()
    try:
        gcpause.pause()
        gcpause.resume()
        assert not gc.isenabled()
    finally:
        gc.enable()
