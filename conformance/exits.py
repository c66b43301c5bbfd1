"""The exit codes of every subcommand, in one place (the README's table)."""

from __future__ import annotations

from typing import Final

EXIT_OK: Final = 0  # no fail, error or nondeterministic result
EXIT_FAIL: Final = 1  # a fail, error or nondeterministic result; a regression
EXIT_USAGE: Final = 2  # bad flags, profile, scenario file or report folder
EXIT_UNREACHABLE: Final = 3  # the target cannot be reached, or stopped answering
EXIT_NOTHING: Final = 4  # nothing selected
EXIT_INTERRUPTED: Final = 130  # Ctrl-C or SIGTERM: what was judged is written


class UsageError(Exception):
    """Bad flags, a bad profile or bad input: the run stops with EXIT_USAGE before
    anything is sent to the server."""
