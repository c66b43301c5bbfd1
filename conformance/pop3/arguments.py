"""One argument grammar and one grading rule, for every command in every state.

The grammar is the command spec's (:mod:`conformance.pop3.spec`): how many
arguments each keyword takes and what a message-number or a line count looks
like.  The rule says how a server's answer to a line that breaks it is graded;
the mailbox model applies it (:meth:`conformance.model.SessionModel.expect`),
``tools/build_argument_suites.py`` writes the scenarios that try it, the
explorer draws from :data:`NUMBER_VARIANTS`, and ``docs/state-machine.md``
and the catalog note of RFC1939-3-12 print :data:`RULE`:

1. What the grammar forbids (an argument missing or one too many, a number
   that is not ``1*DIGIT``, a bare CR inside the line) is a syntactically
   invalid command: RFC 1939 section 3 says a server MUST answer it with
   -ERR, so +OK is a ``fail`` against the command's own requirement for
   invalid use (RFC1939-3-12 for the CR).
2. A lesser grade only where the catalog quotes a sentence for it: spacing
   other than one SP between words (RFC1939-3-5), and leading zeros, which
   still write a base-10 number (RFC1939-4-8).  PASS takes the rest of the
   line (RFC1939-7.PASS-3), so a space in it is no argument too many.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from conformance.pop3.spec import LINE_COUNT, MESSAGE_NUMBER, SECRET_KEYWORDS, CommandSpec

# The separators a lenient server may take between words: what the reader
# splits on to pick an answer's shape (a -ERR is one line whatever it was,
# and a +OK to "RETR<CR>1" is the message).
SEPARATORS: Final = re.compile(r"[ \t\r]+")
SPACING: Final = "RFC1939-3-5"  # "separated by a single SPACE character"
ZEROS: Final = "RFC1939-4-8"  # "expressed in base-10"
NUMBERS: Final = (MESSAGE_NUMBER, LINE_COUNT)

# Argument texts tried in place of a number, with what each is: the argument
# suites try each one, and the explorer draws from them.
NUMBER_VARIANTS: Final = (
    ("x", "a word"),
    ("1x", "trailing garbage"),
    ("+1", "a plus sign"),
    ("-1", "a minus sign"),
    ("01", "a leading zero"),
    (str(2**32 + 1), "2^32 + 1"),
    (str(2**64 + 1), "2^64 + 1"),
)


@dataclass(frozen=True)
class Treatment:
    """How one kind of argument problem is graded: -ERR and +OK, by which requirement."""

    kind: str
    examples: str
    refused: str  # the grade of -ERR
    accepted: str  # the grade of +OK (with the content the command would get)
    requirement: str  # an ID, or how the command's own is found
    why: str


_MUST = (
    'RFC 1939 section 3: "A server MUST respond to an unrecognized, unimplemented, or '
    'syntactically invalid command by responding with a negative status indicator."'
)
OWN = "the command's requirement for invalid use"
RULE: Final = (
    Treatment("missing", "`RETR`, `TOP 1`, `USER`", "pass", "fail", OWN, _MUST),
    Treatment(
        "extra",
        "`NOOP x`, `LIST 1 2`, `USER a b`, `UTF8 x`",
        "pass",
        "fail",
        OWN + " (RFC1939-3-12 unless the spec names another)",
        _MUST,
    ),
    Treatment(
        "bad",
        "`RETR x`, `RETR 1x`, `RETR +1`, `TOP 1 -1`",
        "pass",
        "fail",
        OWN,
        _MUST + ' A message-number or a line count is 1*DIGIT: "all message-numbers '
        '... are expressed in base-10" (section 4).',
    ),
    Treatment(
        "range",
        f"`RETR 0`, `RETR {2**32 + 1}`, `DELE {2**64 + 1}`",
        "pass",
        "fail",
        OWN,
        'A number no message has: the command\'s Possible Responses say "-ERR no such message".',
    ),
    Treatment(
        "cr",
        "`LIST<CR>1`, `NO<CR>OP`",
        "pass",
        "fail",
        "RFC1939-3-12",
        _MUST + " A CR is half of the line's terminator, never a separator: no catalog "
        "entry tolerates it.",
    ),
    Treatment(
        "spacing",
        "`LIST  1` (two spaces), `LIST<TAB>1`, `LIST 1 ` (a trailing space)",
        "pass",
        "info",
        SPACING,
        'RFC 1939 section 3: "Keywords and arguments are each separated by a single '
        'SPACE character."  The catalog records a server that takes two spaces or a TAB '
        "(INFO), if its answer is the one the command gets with single spaces.",
    ),
    Treatment(
        "zeros",
        "`RETR 01`",
        "info",
        "pass",
        ZEROS,
        'RFC 1939 section 4: "all message-numbers and message sizes are expressed in '
        'base-10"; 01 is the number 1, and the catalog records a refusal (INFO).',
    ),
)
TOLERATED: Final = frozenset({"spacing", "zeros"})


@dataclass(frozen=True)
class ArgumentProblem:
    """Why a command line breaks its grammar, and which requirement that breaks."""

    requirement: str
    reason: str
    kind: str  # a Treatment kind: "missing", "extra", "bad", "spacing" or "zeros"
    index: int = 0

    @property
    def tolerated(self) -> bool:
        """Whether the catalog lets a server take the line anyway (graded info)."""
        return self.kind in TOLERATED


def words(line: str) -> list[str]:
    """The words of a command line, split as a lenient server splits them (SP, TAB or CR runs)."""
    stripped = line.strip(" \t")
    return SEPARATORS.split(stripped) if stripped else []


def check_arguments(spec: CommandSpec, args: list[str]) -> ArgumentProblem | None:
    """Whether ``args`` fit ``spec``'s arity and number grammar (None: they do).

    Only arity and the grammar of message-numbers and line counts are judged:
    what a name, a mechanism or a password may be is the server's business.
    """
    if len(args) < spec.required:
        return ArgumentProblem(
            spec.invalid_requirement,
            f"{spec.keyword} needs {' and '.join(a.name for a in spec.args[: spec.required])}",
            "missing",
        )
    most = spec.max_args
    if most is not None and len(args) > most:
        takes = "no argument" if most == 0 else f"at most {most} argument{'s' * (most > 1)}"
        return ArgumentProblem(
            spec.extra_requirement, f"{spec.keyword} takes {takes}", "extra", most
        )
    for i, (arg, text) in enumerate(zip(spec.args, args, strict=False)):
        if arg.grammar in NUMBERS and not arg.grammar.accepts(text):
            what = "message-number" if arg.grammar is MESSAGE_NUMBER else "non-negative number"
            return ArgumentProblem(spec.invalid_requirement, f"{text!r} is not a {what}", "bad", i)
    return None


# The lines judged so far and their problems: an exploration sends the same
# few thousand lines over and over, and a line's problem depends on nothing
# else.  A line with a secret is never kept.
_CHECKED: dict[tuple[str, str], ArgumentProblem | None] = {}
_CHECKED_MAX: Final = 4096


def check_line(spec: CommandSpec, line: str) -> ArgumentProblem | None:
    """The rule for one command line of ``spec``: its worst problem, or None.

    What the grammar forbids comes first (a bare CR, then the arity and the
    numbers); then the deviations the catalog tolerates: spacing, then
    leading zeros.
    """
    key = (spec.keyword, line)
    if key in _CHECKED:
        return _CHECKED[key]
    problem = _check_line(spec, line)
    if spec.keyword not in SECRET_KEYWORDS:
        if len(_CHECKED) >= _CHECKED_MAX:
            _CHECKED.clear()
        _CHECKED[key] = problem
    return problem


def _check_line(spec: CommandSpec, line: str) -> ArgumentProblem | None:
    if "\r" in line:
        return ArgumentProblem("RFC1939-3-12", "a bare CR inside the line separates nothing", "cr")
    found = words(line)
    problem = check_arguments(spec, found[1:])
    if problem is not None:
        return problem
    if not _single_spaced(spec, line, found):
        why = "words must be separated by exactly one space (no TAB, no spare space)"
        return ArgumentProblem(SPACING, why, "spacing")
    for i, (arg, text) in enumerate(zip(spec.args, found[1:], strict=False)):
        if arg.grammar in NUMBERS and len(text) > 1 and text.startswith("0"):
            return ArgumentProblem(ZEROS, f"{text!r} has leading zeros", "zeros", i)
    return None


def _single_spaced(spec: CommandSpec, line: str, found: list[str]) -> bool:
    if not found:
        return True
    if spec.max_args is None:
        # PASS: one space after the keyword, then the argument as it is
        # (RFC1939-7.PASS-3: spaces may be part of the password).
        rest = line[len(found[0]) :]
        return line.startswith(found[0]) and (rest == "" or re.match(r" [^ \t]", rest) is not None)
    return line == " ".join(found)
