"""``python -m binstream`` and the ``binstream`` command."""

from . import gcpause


def main() -> None:
    """Run the command line, with the garbage collector paused while it starts."""
    gcpause.pause()
    from .cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
