"""Shell completion scripts stay in step with the command line."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from binstream.cli.completions import generate

COMPLETIONS = Path(__file__).resolve().parents[2] / "completions"


def test_committed_completions_are_up_to_date() -> None:
    for name, text in generate().items():
        committed = (COMPLETIONS / name).read_text(encoding="utf-8")
        assert committed == text, (
            f"completions/{name} is out of date: "
            "run python -m binstream.cli.completions completions/"
        )


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not installed")
def test_bash_completion_offers_depth_levels() -> None:
    script = (
        f"source {COMPLETIONS / 'binstream.bash'}; "
        'COMP_WORDS=(binstream depth bnbbtc --depth ""); COMP_CWORD=4; _binstream; '
        'echo "${COMPREPLY[@]}"'
    )
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["5", "10", "20"]
