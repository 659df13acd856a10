"""Whether this process is the `scipol` program itself, and how such a program ends early.

`flows.cli.main()` marks it; code that calls `cli` otherwise (tests through click's CliRunner, other
tools) is never ended by `exit_now`. A module of its own: run as `python -m flows.cli`, the CLI module is
`__main__`, and a flag kept there would not be the one the commands import.
"""

from __future__ import annotations

import logging
import os
import sys

_program = False


def started() -> None:
    """Called by the program's entry point, before any command runs."""
    global _program  # noqa: PLW0603 - set once, by the entry point
    _program = True


def exit_now(code: int) -> None:
    """End the program at once after a command has finished and closed what it opened: logs and standard
    streams are flushed, the interpreter's teardown (freeing every module) is skipped. Returns without
    exiting when this process is not the program (`started` was not called)."""
    if not _program:
        return
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
