"""What every part of the scenario grammar shares: the parser's state and the small validators.

:class:`GrammarBase` holds the lines of one file and what the loader learns
while reading it (the accounts leased, the sessions opened, the labels and
snapshots defined), and the checks that more than one grammar needs: a
requirement ID (the ``requirements`` header and the ``check`` step), a label
or snapshot name, a capability name (``when capa`` and ``=> if capa``) and
the ``{placeholders}`` of a ``C:`` line or of the words of an ``S:`` status.

The header (:mod:`~conformance.scenario.header`), step
(:mod:`~conformance.scenario.step_grammar`) and expectation
(:mod:`~conformance.scenario.expectations`) grammars are mixins of it, put
together by the loader.
"""

from __future__ import annotations

import re
from typing import Final

from conformance.scenario.errors import ScenarioError
from conformance.scenario.steps import Where

__all__ = ["CAPA_RE", "GrammarBase"]

# RFC<nnnn>-<section>[.<CMD>]-<n>; the catalog also has section-less entries
# (RFC 1957 has no numbered sections: "RFC1957-1"), so the section is optional.
REQUIREMENT_RE: Final = re.compile(
    r"RFC[0-9]+-(?:[0-9]+(?:\.[0-9]+)*(?:\.[A-Z][A-Z0-9]*)?-)?[0-9]+"
)
NAME_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")  # labels and snapshot names
# A capability name, optionally with one of its arguments: SASL=CRAM-MD5, UTF8=USER.
# Or with a lower bound on its first argument: LOGIN-DELAY>0 (a delay to enforce).
CAPA_RE: Final = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9_.-]*(?:=[A-Za-z0-9][A-Za-z0-9_.-]*|>[0-9]{1,9})?"
)
PLACEHOLDER_RE: Final = re.compile(r"\{([^{}]*)\}")
PLACEHOLDERS: Final = frozenset(
    {"user", "password", "user2", "password2", "count", "size", "last", "beyond"}
    | {"plain", "plainjunk", "b64user", "b64password", "apop", "cram"}
)
INDEXED_PLACEHOLDER_RE: Final = re.compile(
    r"(size|uid|plain|plainjunk|b64user|b64password|apop|cram|spaces):([1-9][0-9]*)"
)
# Words a label may not take: "when capa X" and "when not X" would become ambiguous.
RESERVED_LABELS: Final = frozenset({"capa", "not"})


class GrammarBase:
    """The state of one parse, and the checks that several grammars share."""

    def __init__(self, text: str, file: str) -> None:
        self.file = file
        if text.startswith("\ufeff"):
            text = text[1:]  # a BOM is an editor's habit, not content
        # Split on LF only: str.splitlines() would also split on form feeds and
        # other separators that a C: or raw: line may legitimately contain.
        self.lines = [line.removesuffix("\r") for line in text.split("\n")]
        if self.lines and self.lines[-1] == "":
            self.lines.pop()
        self.accounts = 1
        self.mailbox = "standard"  # the header's, once read
        self.opened: set[str] = set()
        self.current: str | None = None
        self.labels: set[str] = set()
        self.snapshots: set[str] = set()

    def error(self, line: int, message: str) -> ScenarioError:
        """The error to raise for ``message`` at ``line`` of this file."""
        return ScenarioError(self.file, line, message)

    def where(self, line: int) -> Where:
        return Where(self.file, line)

    # shared validators -----------------------------------------------------

    def check_requirement(self, text: str, line: int) -> None:
        """The syntax of a requirement ID; whether the catalog has it is checked elsewhere."""
        if not REQUIREMENT_RE.fullmatch(text):
            raise self.error(
                line,
                f"bad requirement ID {text!r}: expected RFC<number>-<section>[.<CMD>]-<n>,"
                " e.g. RFC1939-5.DELE-2",
            )

    def plain_name(self, name: str, number: int, what: str) -> str:
        """A label or snapshot name (``what`` says which, for the error)."""
        if not NAME_RE.fullmatch(name) or name in RESERVED_LABELS:
            raise self.error(
                number, f"bad {what} {name!r}: a letter, then letters, digits, '_' or '-'"
            )
        return name

    def capa_name(self, name: str, number: int) -> str:
        """A capability name, upper-cased: CAPA tags are case-insensitive (RFC 2449 section 5)."""
        if not CAPA_RE.fullmatch(name):
            raise self.error(number, f"bad capability name {name!r}")
        return name.upper()

    def check_placeholders(self, text: str, number: int) -> None:
        """Every ``{name}`` in ``text`` is known, and leased (``{user2}`` needs two accounts)."""
        for match in PLACEHOLDER_RE.finditer(text):
            name = match.group(1)
            if name in PLACEHOLDERS or INDEXED_PLACEHOLDER_RE.fullmatch(name):
                needs_two = name in ("user2", "password2") or (
                    ":" in name
                    and not name.startswith(("size", "uid", "spaces"))
                    and name[-1] != "1"
                )
                if needs_two and self.accounts < 2:
                    raise self.error(number, f"{{{name}}} needs 'accounts: 2' in the header")
                if name in ("user", "password") and self.accounts < 1:
                    raise self.error(number, f"{{{name}}} needs an account ('accounts: 0')")
                continue
            raise self.error(number, f"unknown placeholder {{{name}}}")
