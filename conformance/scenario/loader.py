"""Scenario files (``*.pop3``) in, :class:`~conformance.scenario.steps.Scenario` out.

The grammar is the one of ``suites/README.md``.  Every mistake in a file is
reported as a :class:`ScenarioError` carrying ``file:line``; the loader checks
as much as it can without a server (regexes compile, labels and snapshots are
defined before use, sessions are opened before use, accounts exist) so that a
broken suite fails at load time and not halfway through a run.

Requirement IDs are checked for syntax only: whether an ID is in the catalog
is the business of the module that owns the catalog.

This module reads the files and is the public API; the grammar is in
:mod:`~conformance.scenario.header` (the lines above ``---``),
:mod:`~conformance.scenario.step_grammar` (the steps after it) and
:mod:`~conformance.scenario.expectations` (the ``S:`` lines), on the shared
state and checks of :mod:`~conformance.scenario.grammar_base`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from conformance.scenario.errors import ScenarioError
from conformance.scenario.header import HeaderGrammar
from conformance.scenario.step_grammar import StepGrammar
from conformance.scenario.steps import Scenario

__all__ = ["ScenarioError", "discover", "load_all", "load_scenario", "parse_scenario"]


# --------------------------------------------------------------------- public API


def parse_scenario(text: str, file: str) -> Scenario:
    """Parse the text of one scenario file; ``file`` is the name used in errors and steps."""
    return _parse(text, file)[0]


def load_scenario(path: Path, *, display_name: str | None = None) -> Scenario:
    """Read and parse one ``.pop3`` file.

    ``display_name`` replaces ``str(path)`` in errors and step locations (a
    report may prefer a path relative to the suite root).
    """
    return _load(path, display_name)[0]


def discover(paths: Sequence[Path]) -> list[Path]:
    """The ``*.pop3`` files under the given folders (recursively), sorted.

    A path that is not a folder is taken as is, so that naming a file that
    does not exist is reported by :func:`load_all` instead of silently
    selecting nothing.
    """
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(p for p in path.rglob("*.pop3") if p.is_file())
        else:
            found.add(path)
    return sorted(found)


def load_all(paths: Sequence[Path]) -> tuple[list[Scenario], list[ScenarioError]]:
    """Load every scenario found by :func:`discover`.

    Returns the scenarios that loaded and the errors of those that did not.
    A scenario whose id was already taken by an earlier file (in sorted
    order) is reported as an error and left out.
    """
    scenarios: list[Scenario] = []
    errors: list[ScenarioError] = []
    seen: dict[str, tuple[str, int]] = {}
    for path in discover(paths):
        try:
            scenario, id_line = _load(path, None)
        except ScenarioError as error:
            errors.append(error)
            continue
        if scenario.id in seen:
            first_file, first_line = seen[scenario.id]
            errors.append(
                ScenarioError(
                    scenario.file,
                    id_line,
                    f"duplicate id '{scenario.id}' (already used at {first_file}:{first_line})",
                )
            )
            continue
        seen[scenario.id] = (scenario.file, id_line)
        scenarios.append(scenario)
    return scenarios, errors


# --------------------------------------------------------------------- reading files


def _load(path: Path, display_name: str | None) -> tuple[Scenario, int]:
    name = display_name if display_name is not None else str(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ScenarioError(name, 1, f"cannot read the file: {error.strerror or error}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ScenarioError(
            name, line, f"not UTF-8: byte 0x{data[error.start]:02x} at offset {error.start}"
        ) from None
    return _parse(text, name)


def _parse(text: str, file: str) -> tuple[Scenario, int]:
    try:
        return _Parser(text, file).parse()
    except ScenarioError:
        raise
    except Exception as error:  # a loader bug must still point at the file, not crash a run
        raise ScenarioError(
            file, 1, f"internal loader error: {type(error).__name__}: {error}"
        ) from error


# --------------------------------------------------------------------- the parser


class _Parser(HeaderGrammar, StepGrammar):
    """One file's parse: the header grammar, then the step grammar from the line after it."""

    def parse(self) -> tuple[Scenario, int]:
        fields, end = self.read_header()
        scenario = self.build_scenario(fields, end)
        scenario.steps = self.parse_steps(end)
        return scenario, fields["id"].line
