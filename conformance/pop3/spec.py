"""The command spec: every POP3 keyword the harness knows, described once.

For each keyword: the states where it is valid and where a positive or a
negative answer leads, its arguments (arity, grammar, which one is secret),
whether it is optional and which CAPA tag announces it, the shape of its
positive answer, and the requirement IDs its answer and its arguments are
judged by.  The transition table (:mod:`conformance.pop3.transitions`), the
response reader, the mailbox model, the explorer, the transcript's redaction
and ``docs/state-machine.md`` are all made from this table; none of them
restates it.

Sources: RFC 1939 sections 4 to 7, RFC 2449 (CAPA), RFC 2595 (STLS), RFC 5034
(AUTH), RFC 6856 (UTF8, LANG).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from conformance.pop3.states import Shape, State

A, AU, T, U, C = (
    State.AUTHORIZATION,
    State.AUTHORIZATION_USER,
    State.TRANSACTION,
    State.UPDATE,
    State.CLOSED,
)
AUTHORIZATION_STATES: Final = (A, AU)


@dataclass(frozen=True)
class Grammar:
    """What one argument may look like: a name for docs and a regex for checks."""

    name: str
    pattern: re.Pattern[str]

    def accepts(self, text: str) -> bool:
        return self.pattern.fullmatch(text) is not None


# RFC 1939 section 3: "message-numbers ... are expressed in base-10"; a number
# of lines for TOP is "a non-negative number" (section 7).
MESSAGE_NUMBER: Final = Grammar("msg", re.compile(r"[0-9]+"))
LINE_COUNT: Final = Grammar("n", re.compile(r"[0-9]+"))
# RFC 2449 section 3: param = 1*VCHAR.
WORD: Final = Grammar("word", re.compile(r"[\x21-\x7e]+"))
# RFC 1939 section 7 (PASS-3): "a POP3 server may treat spaces in the argument
# as part of the password".
TEXT: Final = Grammar("text", re.compile(r"[^\r\n\0]+"))
# RFC 1939 section 7, APOP: "a 16-octet value ... in hexadecimal format, using
# lower-case ASCII characters".
DIGEST: Final = Grammar("digest", re.compile(r"[0-9a-f]{32}"))
# RFC 5034 section 4: initial-response = base64 / "=".
BASE64: Final = Grammar(
    "base64", re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?|=")
)


@dataclass(frozen=True)
class Arg:
    name: str
    grammar: Grammar
    # A secret never reaches a transcript or a report (style.md, Conventions).
    secret: bool = False
    # PASS: the argument runs to the end of the line, spaces included.
    rest_of_line: bool = False


@dataclass(frozen=True)
class CommandSpec:
    keyword: str
    summary: str
    defined_in: str
    # state -> (state after +OK, state after -ERR); where it is valid.
    transitions: dict[State, tuple[State, State]]
    args: tuple[Arg, ...] = ()
    required: int = 0  # how many of ``args`` must be given
    optional: bool = False  # an optional command (RFC 1939 section 7) or an extension
    capability: str | None = None  # the CAPA tag that announces it
    shape: Shape = Shape.SINGLE
    # What a positive answer must look like (its format requirements).
    format_requirements: tuple[str, ...] = ()
    # What a syntactically invalid use (missing or bad argument) breaks; an
    # argument too many breaks RFC1939-3-12 unless the command says otherwise.
    invalid_requirement: str = "RFC1939-3-12"
    extra_requirement: str = "RFC1939-3-12"
    # What using the command outside its states breaks: RFC 1939 section 3 for
    # the base commands; an extension names its own "valid states" rule.
    state_requirement: str = "RFC1939-3-13"
    # What naming a message marked as deleted breaks (message-number commands).
    deleted_requirement: str | None = None
    # A SASL exchange may follow (the answer "+ challenge", RFC 5034).
    continues: bool = False

    @property
    def states(self) -> frozenset[State]:
        return frozenset(self.transitions)

    @property
    def max_args(self) -> int | None:
        """The most arguments the command takes (None: the last runs to the end of the line)."""
        if self.args and self.args[-1].rest_of_line:
            return None
        return len(self.args)

    @property
    def secret_from(self) -> int | None:
        """Index of the first secret argument, if any."""
        for i, arg in enumerate(self.args):
            if arg.secret:
                return i
        return None

    def usage(self) -> str:
        """``RETR msg`` / ``LIST [msg]`` / ``TOP msg n``: for docs and help."""
        parts = [self.keyword]
        for i, arg in enumerate(self.args):
            parts.append(arg.name if i < self.required else f"[{arg.name}]")
        return " ".join(parts)


def _in(states: tuple[State, ...], on_ok: State, on_err: State) -> dict[State, tuple[State, State]]:
    return {s: (on_ok, on_err) for s in states}


_MSG = Arg("msg", MESSAGE_NUMBER)

COMMANDS: Final[dict[str, CommandSpec]] = {
    spec.keyword: spec
    for spec in (
        CommandSpec(
            "USER",
            "names the mailbox for a USER/PASS login",
            "RFC 1939 section 7",
            # USER again after a successful USER is not forbidden (only PASS is
            # constrained); a server may accept or refuse it.
            _in(AUTHORIZATION_STATES, AU, A),
            args=(Arg("name", WORD),),
            required=1,
            optional=True,
            capability="USER",
            format_requirements=("RFC1939-7.USER-1",),
        ),
        CommandSpec(
            "PASS",
            "the password, right after a successful USER",
            "RFC 1939 section 7",
            {AU: (T, A)},
            args=(Arg("string", TEXT, secret=True, rest_of_line=True),),
            required=1,
            optional=True,
            capability="USER",
            format_requirements=("RFC1939-7.PASS-2",),
        ),
        CommandSpec(
            "APOP",
            "a login with a digest over the greeting's timestamp",
            "RFC 1939 section 7",
            _in(AUTHORIZATION_STATES, T, A),
            args=(Arg("name", WORD), Arg("digest", DIGEST, secret=True)),
            required=2,
            optional=True,
            # APOP has no CAPA tag (RFC 2449 section 6): the greeting's
            # timestamp announces it.
            format_requirements=("RFC1939-7.APOP-3",),
        ),
        CommandSpec(
            "AUTH",
            "a SASL login; without a mechanism some servers list theirs",
            "RFC 5034 section 4",
            _in(AUTHORIZATION_STATES, T, A),
            args=(Arg("mechanism", WORD), Arg("initial-response", BASE64, secret=True)),
            optional=True,
            capability="SASL",
            shape=Shape.MULTI_IF_NO_ARG,
            format_requirements=("RFC5034-4-5", "RFC5034-4-14"),
            state_requirement="RFC5034-4-3",
            continues=True,
        ),
        CommandSpec(
            "STLS",
            "starts TLS on the connection",
            "RFC 2595 section 4",
            _in(AUTHORIZATION_STATES, A, A),
            optional=True,
            capability="STLS",
            format_requirements=("RFC2595-4-2",),
            state_requirement="RFC2595-4-3",
        ),
        CommandSpec(
            "UTF8",
            "enables UTF-8 mode",
            "RFC 6856 section 2",
            _in(AUTHORIZATION_STATES, A, A),
            optional=True,
            capability="UTF8",
            format_requirements=("RFC6856-2.1-1",),
            state_requirement="RFC6856-2-1",
        ),
        CommandSpec(
            "CAPA",
            "lists the server's capabilities",
            "RFC 2449 section 5",
            # Any command between USER and PASS ends the "immediately after"
            # of RFC 1939 section 7 (PASS): back to plain AUTHORIZATION.
            {A: (A, A), AU: (A, A), T: (T, T)},
            optional=True,
            shape=Shape.MULTI,
            format_requirements=("RFC2449-5-1", "RFC2449-5-5"),
        ),
        CommandSpec(
            "LANG",
            "lists or selects the language of response texts",
            "RFC 6856 section 3",
            {A: (A, A), AU: (A, A), T: (T, T)},
            args=(Arg("lang-range", WORD),),
            optional=True,
            capability="LANG",
            shape=Shape.MULTI_IF_NO_ARG,
            format_requirements=("RFC6856-3-1", "RFC6856-3.2-4"),
        ),
        CommandSpec(
            "QUIT",
            "ends the session (in TRANSACTION: removes the marked messages)",
            "RFC 1939 sections 4 and 6",
            # From AUTHORIZATION there is no UPDATE state (RFC 1939 section 6).
            {A: (C, C), AU: (C, C), T: (U, U)},
            format_requirements=("RFC1939-4.QUIT-1", "RFC1939-6.QUIT-1"),
        ),
        CommandSpec(
            "STAT",
            "the number of messages and their size in octets",
            "RFC 1939 section 5",
            {T: (T, T)},
            format_requirements=("RFC1939-5.STAT-1",),
        ),
        CommandSpec(
            "LIST",
            "the scan listing of one message, or of each",
            "RFC 1939 section 5",
            {T: (T, T)},
            args=(_MSG,),
            shape=Shape.MULTI_IF_NO_ARG,
            format_requirements=("RFC1939-5.LIST-1", "RFC1939-5.LIST-4"),
            invalid_requirement="RFC1939-5.LIST-7",
            deleted_requirement="RFC1939-5.LIST-6",
        ),
        CommandSpec(
            "RETR",
            "the whole message",
            "RFC 1939 section 5",
            {T: (T, T)},
            args=(_MSG,),
            required=1,
            shape=Shape.MULTI,
            format_requirements=("RFC1939-5.RETR-1",),
            invalid_requirement="RFC1939-5.RETR-3",
            deleted_requirement="RFC1939-5.RETR-2",
        ),
        CommandSpec(
            "DELE",
            "marks a message as deleted",
            "RFC 1939 section 5",
            {T: (T, T)},
            args=(_MSG,),
            required=1,
            format_requirements=("RFC1939-5.DELE-1",),
            invalid_requirement="RFC1939-5.DELE-5",
            deleted_requirement="RFC1939-5.DELE-2",
        ),
        CommandSpec(
            "NOOP",
            "does nothing; answers +OK",
            "RFC 1939 section 5",
            {T: (T, T)},
            format_requirements=("RFC1939-5.NOOP-1",),
        ),
        CommandSpec(
            "RSET",
            "unmarks every message marked as deleted",
            "RFC 1939 section 5",
            {T: (T, T)},
            format_requirements=("RFC1939-5.RSET-1",),
        ),
        CommandSpec(
            "TOP",
            "the header block and the first n body lines",
            "RFC 1939 section 7",
            {T: (T, T)},
            args=(_MSG, Arg("n", LINE_COUNT)),
            required=2,
            optional=True,
            capability="TOP",
            shape=Shape.MULTI,
            format_requirements=("RFC1939-7.TOP-1",),
            invalid_requirement="RFC1939-7.TOP-3",
            extra_requirement="RFC1939-7.TOP-3",
            deleted_requirement="RFC1939-7.TOP-3",
        ),
        CommandSpec(
            "UIDL",
            "the unique-id listing of one message, or of each",
            "RFC 1939 section 7",
            {T: (T, T)},
            args=(_MSG,),
            optional=True,
            capability="UIDL",
            shape=Shape.MULTI_IF_NO_ARG,
            format_requirements=("RFC1939-7.UIDL-1", "RFC1939-7.UIDL-2", "RFC1939-7.UIDL-3"),
            invalid_requirement="RFC1939-7.UIDL-1",
            deleted_requirement="RFC1939-7.UIDL-7",
        ),
    )
}

# Every keyword the spec knows: what tells "wrong state" from "unknown".
KNOWN_KEYWORDS: Final[frozenset[str]] = frozenset(COMMANDS)
# Optional commands, and the CAPA tag of each that has one.
OPTIONAL_KEYWORDS: Final[frozenset[str]] = frozenset(k for k, s in COMMANDS.items() if s.optional)
# Commands whose arguments carry secrets (redacted in every transcript), and
# the index of each one's first secret argument.
_SECRET_FROM: Final[dict[str, int]] = {
    k: i for k, s in COMMANDS.items() if (i := s.secret_from) is not None
}
SECRET_KEYWORDS: Final[frozenset[str]] = frozenset(_SECRET_FROM)


# The rules a command breaks by being invalid where it is sent (unknown, wrong
# state, arguments its grammar forbids), whatever a scenario is about.
VALIDITY_REQUIREMENTS: Final[frozenset[str]] = frozenset(
    {"RFC1939-3-12", "RFC1939-3-13", "RFC1939-7.PASS-1"}
    | {s.invalid_requirement for s in COMMANDS.values()}
    | {s.extra_requirement for s in COMMANDS.values()}
    | {s.state_requirement for s in COMMANDS.values()}
)


def spec_for(keyword: str) -> CommandSpec | None:
    return COMMANDS.get(keyword.upper())


_WORD = re.compile(r"\S+")


def secret_offset(line: str) -> int | None:
    """Where the secret part of a command line starts, as the spec marks it (None: none).

    PASS's password, APOP's digest and AUTH's initial response: the word at
    the first secret argument, and everything after it.  Transcripts redact
    from there, and the interactive shell masks from there as it is typed.
    """
    # Every line sent is redacted for the transcript: the keyword decides, and
    # the words are only looked at as far as the secret one.
    words = _WORD.finditer(line)
    first = next(words, None)
    index = None if first is None else _SECRET_FROM.get(first.group().upper())
    if index is None:
        return None
    for i, word in enumerate(words):
        if i == index:
            return word.start()
    return None
