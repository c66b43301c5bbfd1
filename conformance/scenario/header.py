"""The header of a scenario file: the ``key: value`` lines above ``---``.

:class:`HeaderGrammar` reads them (an indented line continues the value
above it), rejects unknown and repeated keys, and builds the
:class:`~conformance.scenario.steps.Scenario` from the fields: the id, the
requirement, tag and capability lists, and the optional settings (mailbox,
shapes, accounts, destructive, login, timeout, description, expectation).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Final

from conformance.messages import CORPORA
from conformance.scenario.grammar_base import CAPA_RE, GrammarBase
from conformance.scenario.steps import Scenario
from conformance.shapes import SHAPES

__all__ = ["HeaderGrammar"]

HEADER_END: Final = "---"
HEADER_KEYS: Final = frozenset(
    {
        "id",
        "title",
        "requirements",
        "tags",
        "needs",
        "mailbox",
        "shapes",
        "accounts",
        "destructive",
        "login",
        "timeout",
        "description",
        "expectation",
    }
)
REQUIRED_KEYS: Final = ("id", "title", "requirements")
MAILBOXES: Final = (*CORPORA, "none")
ID_RE: Final = re.compile(r"[a-z0-9][a-z0-9.-]*")
TAG_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
HEADER_LINE_RE: Final = re.compile(r"([A-Za-z][A-Za-z0-9_-]*)\s*:(.*)")


@dataclass
class _Field:
    """A header value, and the line of its key (errors point there)."""

    line: int
    value: str


class HeaderGrammar(GrammarBase):
    """Reads the header and builds the scenario from it (its steps come later)."""

    def read_header(self) -> tuple[dict[str, _Field], int]:
        fields: dict[str, _Field] = {}
        last: str | None = None
        for index, line in enumerate(self.lines):
            number = index + 1
            if line.rstrip() == HEADER_END:
                return fields, number
            if line.startswith("#") or not line.strip():
                continue
            if line[0] in " \t":
                if last is None:
                    raise self.error(number, "indented line without a header key above it")
                fields[last].value = f"{fields[last].value} {line.strip()}".strip()
                continue
            match = HEADER_LINE_RE.fullmatch(line)
            if match is None:
                raise self.error(
                    number, f"expected 'key: value' in the header (or '{HEADER_END}'), got {line!r}"
                )
            key = match.group(1)
            if key not in HEADER_KEYS:
                known = ", ".join(sorted(HEADER_KEYS))
                raise self.error(number, f"unknown header key '{key}' (known: {known})")
            if key in fields:
                raise self.error(
                    number, f"header key '{key}' given twice (first at line {fields[key].line})"
                )
            fields[key] = _Field(number, match.group(2).strip())
            last = key
        raise self.error(
            max(len(self.lines), 1), f"no '{HEADER_END}' line ends the header; a scenario needs one"
        )

    def build_scenario(self, fields: dict[str, _Field], end: int) -> Scenario:
        for key in REQUIRED_KEYS:
            if key not in fields:
                raise self.error(end, f"the header has no '{key}' (required)")
            if not fields[key].value:
                raise self.error(fields[key].line, f"'{key}' is empty")

        id_field = fields["id"]
        if not ID_RE.fullmatch(id_field.value):
            raise self.error(
                id_field.line,
                f"bad id {id_field.value!r}: use lower-case letters, digits, '.' and '-',"
                " starting with a letter or digit",
            )
        scenario = Scenario(
            id=id_field.value,
            title=fields["title"].value,
            file=self.file,
            requirements=self.requirement_list(fields["requirements"]),
        )
        if "tags" in fields:
            scenario.tags = self.word_list(fields["tags"], TAG_RE, "tag")
        if "needs" in fields:
            # CAPA tags are case-insensitive (RFC 2449 section 5): keep one spelling.
            needs = self.word_list(fields["needs"], CAPA_RE, "capability")
            scenario.needs = [n.upper() for n in needs]
        if "mailbox" in fields:
            f = fields["mailbox"]
            if f.value not in MAILBOXES:
                raise self.error(
                    f.line, f"bad mailbox {f.value!r}: expected one of {', '.join(MAILBOXES)}"
                )
            scenario.mailbox = f.value
        if "shapes" in fields:
            f = fields["shapes"]
            scenario.shapes = self.word_list(f, TAG_RE, "shape")
            unknown = [name for name in scenario.shapes if name not in SHAPES]
            if unknown:
                raise self.error(
                    f.line, f"unknown shape {unknown[0]!r} (known: {', '.join(SHAPES)})"
                )
            if scenario.mailbox in ("none", "empty"):
                raise self.error(
                    f.line,
                    f"'shapes' describe messages, and 'mailbox: {scenario.mailbox}' has none",
                )
        if "accounts" in fields:
            f = fields["accounts"]
            if f.value not in ("0", "1", "2"):
                raise self.error(f.line, f"bad accounts {f.value!r}: expected 0, 1 or 2")
            scenario.accounts = int(f.value)
            self.accounts = scenario.accounts
            # A scenario that never logs in (the AUTHORIZATION-state timer)
            # holds no account, so it cannot keep one from the others.
            if scenario.accounts == 0 and scenario.mailbox != "none":
                raise self.error(f.line, "'accounts: 0' has no mailbox: set 'mailbox: none'")
        self.mailbox = scenario.mailbox
        if "destructive" in fields:
            f = fields["destructive"]
            if f.value not in ("yes", "no"):
                raise self.error(f.line, f"bad destructive {f.value!r}: expected yes or no")
            scenario.destructive = f.value == "yes"
        if "login" in fields:
            f = fields["login"]
            if f.value not in ("user", "apop"):
                raise self.error(f.line, f"bad login {f.value!r}: expected user or apop")
            scenario.login = f.value
        if "timeout" in fields:
            f = fields["timeout"]
            scenario.timeout = self.positive_number(f.value, f.line, "timeout")
        if "description" in fields:
            scenario.description = fields["description"].value
        if "expectation" in fields:
            scenario.expectation = fields["expectation"].value
        return scenario

    def requirement_list(self, f: _Field) -> list[str]:
        result: list[str] = []
        for item in _comma_list(f.value):
            self.check_requirement(item, f.line)
            if item in result:
                raise self.error(f.line, f"requirement {item} is listed twice")
            result.append(item)
        if not result:
            raise self.error(f.line, "'requirements' lists no requirement")
        return result

    def word_list(self, f: _Field, pattern: re.Pattern[str], what: str) -> list[str]:
        result: list[str] = []
        for item in _comma_list(f.value):
            if not pattern.fullmatch(item):
                raise self.error(f.line, f"bad {what} {item!r}")
            if item not in result:
                result.append(item)
        return result

    def positive_number(self, text: str, line: int, what: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise self.error(line, f"bad {what} {text!r}: expected a number of seconds") from None
        if not math.isfinite(value) or value <= 0:
            raise self.error(line, f"bad {what} {text!r}: must be a positive number of seconds")
        return value


def _comma_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]
