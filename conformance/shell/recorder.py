"""``--record FILE.pop3``: the shell session written as a scenario that ``run --suites`` loads.

Each step the user took becomes the scenario step that does the same
(``open A``, ``C: LINE``, ``raw: TEXT``, ``use B``, ``close A``, ``quit A``,
``tls A``), and each answer becomes the expectation that judges it:

- an answer the harness judged right is an ``S:`` line that matches it: its
  status, its response code and the numbers the model checked (``S: +OK 2
  320``), or ``S: model`` where the replay knows the mailbox (a seeded corpus)
  and the answer came in TRANSACTION; a ``check`` line before the command
  names the requirement the model judged it by;
- an answer the model judged wrong is a commented-out ``S:`` line with the
  answer a conforming server gives, under a comment that says what was
  wrong: uncommented, the scenario is a regression case;
- an answer that broke only the wire grammar keeps its ``S:`` line: every
  replay judges the grammar again.

Account names and secrets become placeholders
(:class:`~conformance.shell.credentials.Placeholders`), so the file holds
no secret and replays on any account.  The header is filled in: an id from
the file name, the requirements touched (the broken ones first),
``mailbox`` (the corpus the shell seeded, or ``none``), ``accounts`` and
``destructive`` (a QUIT in TRANSACTION with messages marked).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from conformance.model import Expectation
from conformance.pop3 import GREETING, Response, State, encode_command, spec_for
from conformance.results import CheckResult
from conformance.runner.checks import GREETING as GREETING_REQUIREMENT
from conformance.scenario.escapes import encode_escapes
from conformance.scenario.loader import parse_scenario
from conformance.scenario.writer import header
from conformance.shell.credentials import Placeholders, raw_has_secret
from conformance.shell.judge import Judgement

# Words an S: status form may hold (modifiers and placeholders would be misread).
_PLAIN_WORD = re.compile(r"[A-Za-z0-9.,:;_/@<>()-]+")


def _status_form(response: Response, words: list[str]) -> str:
    if response.kind == "closed":
        return "closed"
    if response.kind == "timeout":
        return "timeout"
    if response.kind == "continuation":
        return "/^\\+/"
    if response.status is None:
        return "any"
    parts = [response.status]
    if response.code_text is not None and _PLAIN_WORD.fullmatch(response.code_text):
        parts.append(f"[{response.code_text}]")
    parts += [w for w in words if _PLAIN_WORD.fullmatch(w)]
    return " ".join(parts)


def _conforming(expectation: Expectation) -> str:
    """The S: form of what the model says a conforming server answers."""
    words = [str(v) for v in expectation.values or ()] if expectation.status == "+OK" else []
    return " ".join([expectation.status, *words])


@dataclass
class Recorder:
    path: Path
    placeholders: Placeholders
    target: str  # "HOST:PORT" or "the embedded reference server"
    corpus: str | None  # the corpus the shell seeded (None: the mailbox is not known)
    lines: list[str] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)  # requirements, in order
    broken: list[str] = field(default_factory=list)
    current: str | None = None
    requirement: str | None = None
    destructive: bool = False
    marked: dict[str, bool] = field(default_factory=dict)  # session -> messages marked

    # -- steps --------------------------------------------------------------------
    def _on(self, name: str) -> None:
        """Steps act on the current session: say ``use`` when that changes."""
        if self.current != name:
            self.lines.append(f"use {name}")
            self.current = name

    def _check(self, requirement: str) -> None:
        if requirement not in self.touched:
            self.touched.append(requirement)
        if requirement != self.requirement:
            self.lines.append(f"check {requirement}")
            self.requirement = requirement

    def opened(self, name: str, judgement: Judgement) -> None:
        self._check(GREETING_REQUIREMENT)
        self.lines.append(f"open {name}")
        self.current = name
        self.marked[name] = False
        if judgement.answer.response.ok:
            self.lines.append("S: +OK")

    def command(
        self, name: str, line: str, in_sasl: bool, values: Mapping[str, str], judged: Judgement
    ) -> None:
        if "{" in line or "}" in line:
            # A literal brace would read as a placeholder: raw: takes it as it is.
            self.raw(name, encode_escapes(encode_command(line)), in_sasl, [judged])
            return
        self._on(name)
        written = self.placeholders.line(line, in_sasl, values)
        self._check(_requirement(judged))
        quit_ok = judged.answer.command.keyword == "QUIT" and judged.answer.response.ok
        if quit_ok and not in_sasl and judged.right:
            # The scenario's own step: QUIT, +OK, and the close that must follow.
            self._track(name, judged)
            self.lines.append(f"quit {name}")
            self.current = None
            return
        self.lines.append(f"C: {written}")
        self._expectation(judged, name, active_when_wrong=False)

    def raw(self, name: str, text: str, in_sasl: bool, judged: list[Judgement]) -> None:
        self._on(name)
        if in_sasl or raw_has_secret(text) or self.placeholders.has_password(text):
            self.lines.append("# a ':raw' line that carried a secret was left out here")
            return
        if judged:
            self._check(_requirement(judged[0]))
        # A scenario's raw: line expands {placeholders}; the shell's :raw does not.
        self.lines.append("raw: " + text.replace("{", "\\x7b"))
        for index, judgement in enumerate(judged):
            if index:
                self.lines.append("read")
            self._expectation(judgement, name, active_when_wrong=True)

    def tls(self, name: str) -> None:
        self._on(name)
        self.lines.append(f"tls {name}")

    def ended(self, name: str, how: str) -> None:
        """``close``, ``reset`` or ``half-close``: the scenario steps of the same names."""
        self.lines.append(f"{how} {name}")
        self.current = name

    # -- expectations -------------------------------------------------------------
    def _expectation(self, judged: Judgement, name: str, *, active_when_wrong: bool) -> None:
        self._track(name, judged)
        answer, response = judged.answer, judged.answer.response
        # Grammar findings (their note is the finding's code) need no S: line:
        # every replay judges the grammar again.
        beyond_grammar = [c for c in judged.wrong if not c.note]
        for check in judged.wrong:
            self.broken.append(check.requirement)
            self.lines.append("# " + self.placeholders.passwords(_said(check)))
        replay_model = self.corpus is not None and answer.before is State.TRANSACTION
        expectation = judged.expectation
        if not beyond_grammar:
            if expectation is not None and replay_model:
                self.lines.append("S: model")
                return
            count = len(expectation.values or ()) if expectation is not None else 0
            self.lines.append(f"S: {_status_form(response, response.text.split()[:count])}")
            return
        if replay_model:
            conforming = "model"
        elif expectation is not None:
            conforming = _conforming(expectation)
        else:
            conforming = _status_form(response, [])
        self.lines.append("# for a regression case, put this line in force:")
        self.lines.append(f"# S: {conforming}")
        if active_when_wrong:
            # Every answer of a raw: batch must be read, in order.
            wrong = beyond_grammar[0].requirement
            self.lines.append(f'S: any => info "judged wrong when recorded: {wrong}"')

    def _track(self, name: str, judged: Judgement) -> None:
        """A QUIT in TRANSACTION with messages marked removes mail: a destructive scenario."""
        answer = judged.answer
        if answer.before is not State.TRANSACTION or not answer.response.ok:
            return
        keyword = answer.command.keyword
        if keyword == "DELE":
            self.marked[name] = True
        elif keyword == "RSET":
            self.marked[name] = False
        elif keyword == "QUIT" and self.marked.get(name):
            self.destructive = True

    # -- the file -----------------------------------------------------------------
    def text(self) -> str:
        requirements = list(dict.fromkeys([*self.broken, *self.touched])) or [GREETING_REQUIREMENT]
        two = any(p.endswith(("2}", ":2}")) for p in self.placeholders.used)
        stem = re.sub(r"[^a-z0-9.-]+", "-", self.path.stem.lower()).strip("-.") or "session"
        day = dt.datetime.now(dt.UTC).date().isoformat()
        fields = [
            ("id", f"shell.{stem}"),
            ("title", f"recorded with pop3-conformance shell against {self.target}"),
            ("requirements", ", ".join(requirements)),
            ("tags", "recorded, shell"),
            ("mailbox", self.corpus or "none"),
            ("accounts", "2" if two else "1"),
            ("destructive", "yes" if self.destructive else "no"),
            (
                "description",
                f"Typed in 'pop3-conformance shell' on {day}. Each answer the harness judged "
                "right is an expectation; each one it judged wrong is a commented-out "
                "expectation of the conforming answer, under what was wrong.",
            ),
            ("expectation", "The server answers as it did when this was recorded."),
        ]
        lines = header(fields)
        if self.placeholders.unknown:
            lines.insert(-1, "# a secret no placeholder computes (a wrong password) is ********")
        return "\n".join([*lines, *self.lines]) + "\n"

    def write(self) -> Path:
        """Write the file, then parse it back: a recording that does not load is a bug,
        reported (ScenarioError) with the file left for a look."""
        text = self.text()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(text, encoding="utf-8")
        parse_scenario(text, str(self.path))
        return self.path


def _requirement(judged: Judgement) -> str:
    """The requirement an answer was judged by: the first broken one, else the model's."""
    if judged.wrong:
        return judged.wrong[0].requirement
    if judged.expectation is not None:
        return judged.expectation.requirement
    if judged.checks:
        return judged.checks[0].requirement
    command = judged.answer.command
    spec = spec_for(command.keyword) if command.keyword != GREETING else None
    return spec.format_requirements[0] if spec is not None else "RFC1939-3-12"


def _said(check: CheckResult) -> str:
    what = f"expected {check.expected}; got {check.actual}" if check.expected else check.actual
    return " ".join(f"{check.outcome.value} {check.requirement} ({check.level}): {what}".split())
