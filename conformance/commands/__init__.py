"""Subcommands of ``pop3-conformance`` beyond run, diff and serve: one module each.

A module here defines ``NAME`` (the subcommand), ``HELP`` (one line),
``add_arguments(parser: argparse.ArgumentParser) -> None`` and
``run(args: argparse.Namespace) -> int`` (the exit code).  ``conformance.cli``
finds them by listing this package; modules whose name starts with ``_`` are
helpers, not commands.
"""
