"""The POP3 state machine as one table, made from the command spec.

``TRANSITIONS[state][keyword]`` says, for a line the client may legally send
in ``state``, which state a positive answer leads to, which state a negative
answer leads to, where a SASL continuation ("+ challenge") leads, and the
shape of the positive answer (the h11 shape: code only looks the table up).

Inside a SASL exchange the next client line is not a command but a SASL
response, whatever it says: that row is keyed by :data:`SASL_RESPONSE`.
UPDATE has no commands: the server removes the marked messages and closes,
and every state ends in CLOSED when the connection does (:data:`ON_CLOSE`).

A command that has no entry for a state is a wrong-state or unknown command:
RFC 1939 section 3 says a conforming server answers it with ``-ERR``, which is
always a single line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from conformance.pop3.arguments import words
from conformance.pop3.spec import COMMANDS, KNOWN_KEYWORDS
from conformance.pop3.states import Shape, State

# The row of AUTHORIZATION_SASL: any line there is the client's SASL response.
SASL_RESPONSE: Final = "<sasl-response>"
# Where every state goes when the connection ends.
ON_CLOSE: Final = State.CLOSED


@dataclass(frozen=True)
class Rule:
    on_ok: State
    on_err: State
    shape: Shape
    # Where a "+ challenge" answer leads (None: a continuation is not an answer here).
    on_continue: State | None = None
    # The state each status ("+OK", "-ERR", "+") leads to, as a mapping: it is
    # looked up on every answer.  A status not in it leaves the state unknown.
    leads: dict[str, State] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        leads = {"+OK": self.on_ok, "-ERR": self.on_err}
        if self.on_continue is not None:
            leads["+"] = self.on_continue
        object.__setattr__(self, "leads", leads)


def _build() -> dict[State, dict[str, Rule]]:
    table: dict[State, dict[str, Rule]] = {state: {} for state in State}
    for keyword, spec in COMMANDS.items():
        for state, (on_ok, on_err) in spec.transitions.items():
            on_continue = State.AUTHORIZATION_SASL if spec.continues else None
            table[state][keyword] = Rule(on_ok, on_err, spec.shape, on_continue)
    # RFC 5034 section 4: the exchange goes on with another challenge, ends
    # with +OK (TRANSACTION) or with -ERR (back to AUTHORIZATION).
    table[State.AUTHORIZATION_SASL][SASL_RESPONSE] = Rule(
        State.TRANSACTION, State.AUTHORIZATION, Shape.SINGLE, State.AUTHORIZATION_SASL
    )
    return table


TRANSITIONS: Final[dict[State, dict[str, Rule]]] = _build()

__all__ = [
    "KNOWN_KEYWORDS",
    "ON_CLOSE",
    "SASL_RESPONSE",
    "TRANSITIONS",
    "Rule",
    "command_keyword",
    "next_state",
    "resolve_shape",
    "response_shape",
    "rule_for",
    "split_command",
]


def split_command(line: str) -> tuple[str, list[str]]:
    """Split a command line into its upper-cased keyword and arguments.

    Words are split at runs of SP, TAB and CR, as a lenient server splits
    them: a -ERR is one line whatever the line was, so the shape only matters
    for a +OK, and a +OK to ``RETR<TAB>1`` is the message.  Whether the spacing
    itself was right is :func:`conformance.pop3.arguments.check_line`'s to say.
    """
    found = words(line)
    if not found:
        return "", []
    return found[0].upper(), found[1:]


def command_keyword(state: State, line: str) -> str:
    """The row a client line is looked up by: its keyword, or SASL_RESPONSE inside SASL."""
    if state is State.AUTHORIZATION_SASL:
        return SASL_RESPONSE
    return split_command(line)[0]


def rule_for(state: State, keyword: str) -> Rule | None:
    """The table entry for ``keyword`` in ``state``, or None if the command is not allowed there."""
    row = TRANSITIONS.get(state, {})
    if state is State.AUTHORIZATION_SASL:
        return row[SASL_RESPONSE]
    return row.get(keyword.upper())


def resolve_shape(shape: Shape, has_argument: bool) -> Shape:
    """SINGLE or MULTI: MULTI_IF_NO_ARG resolved by whether an argument was given."""
    if shape is Shape.MULTI_IF_NO_ARG:
        return Shape.SINGLE if has_argument else Shape.MULTI
    return shape


def response_shape(state: State, keyword: str, has_argument: bool) -> Shape:
    """The shape of a *positive* answer to ``keyword`` sent in ``state``.

    Negative answers are always single-line; a command without a rule gets a
    single line too.  The result is never MULTI_IF_NO_ARG.
    """
    rule = rule_for(state, keyword)
    if rule is None:
        return Shape.SINGLE
    return resolve_shape(rule.shape, has_argument)


def next_state(state: State, keyword: str, positive: bool) -> State:
    """The state after the server answered ``keyword`` positively or negatively."""
    rule = rule_for(state, keyword)
    if rule is None:
        return state
    return rule.on_ok if positive else rule.on_err
