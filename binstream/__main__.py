"""``python -m binstream`` and the ``binstream`` command."""

from .cli import gcpause, malloctune


def main() -> None:
    """Run the command line, with the garbage collector paused while it starts and the
    allocator keeping the memory of its batches (see :mod:`binstream.cli.malloctune`)."""
    gcpause.pause()
    malloctune.keep_batch_memory()
    from .cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
