"""The POP3 state machine as one table.

``TRANSITIONS[state][keyword]`` says, for a command the client may legally send
in ``state``, which state a positive answer leads to, which state a negative
answer leads to, and the shape of the positive answer.  The response reader,
the session, the mailbox model and the documentation all look the table up;
none of them restates it (the way h11 keeps its state machine in one dict).

A command that has no entry for a state is a wrong-state or unknown command:
RFC 1939 section 3 says a conforming server answers it with ``-ERR``, which is
always a single line.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class State(enum.Enum):
    AUTHORIZATION = "AUTHORIZATION"
    # After a positive answer to USER: RFC 1939 section 7 allows PASS only
    # "immediately after a successful USER command".
    AUTHORIZATION_USER = "AUTHORIZATION_USER"
    # Inside a SASL exchange (RFC 5034): the server sent "+ challenge".
    AUTHORIZATION_SASL = "AUTHORIZATION_SASL"
    TRANSACTION = "TRANSACTION"
    UPDATE = "UPDATE"
    # QUIT from AUTHORIZATION ends the session without an UPDATE state (RFC 1939 section 6).
    CLOSED = "CLOSED"


class Shape(enum.Enum):
    SINGLE = "single"
    MULTI = "multi"
    # LIST and UIDL (and LANG) are multi-line only when given no argument.
    MULTI_IF_NO_ARG = "multi-if-no-arg"


@dataclass(frozen=True)
class Rule:
    on_ok: State
    on_err: State
    shape: Shape


A, AU, AS, T, U, C = (
    State.AUTHORIZATION,
    State.AUTHORIZATION_USER,
    State.AUTHORIZATION_SASL,
    State.TRANSACTION,
    State.UPDATE,
    State.CLOSED,
)
S, M, MN = Shape.SINGLE, Shape.MULTI, Shape.MULTI_IF_NO_ARG

_AUTHORIZATION: dict[str, Rule] = {
    "USER": Rule(AU, A, S),
    "APOP": Rule(T, A, S),
    # AUTH with a mechanism may answer "+ challenge" (see codec); without an
    # argument some servers list their mechanisms as a multi-line answer.
    "AUTH": Rule(T, A, MN),
    "CAPA": Rule(A, A, M),
    "STLS": Rule(A, A, S),
    "UTF8": Rule(A, A, S),
    "LANG": Rule(A, A, MN),
    "QUIT": Rule(C, C, S),
}

TRANSITIONS: dict[State, dict[str, Rule]] = {
    A: _AUTHORIZATION,
    # USER again after a successful USER is not forbidden by RFC 1939 (only
    # PASS is constrained); a server may accept or refuse it.
    AU: {**_AUTHORIZATION, "PASS": Rule(T, A, S), "USER": Rule(AU, A, S)},
    AS: {},
    T: {
        "STAT": Rule(T, T, S),
        "LIST": Rule(T, T, MN),
        "RETR": Rule(T, T, M),
        "DELE": Rule(T, T, S),
        "NOOP": Rule(T, T, S),
        "RSET": Rule(T, T, S),
        "TOP": Rule(T, T, M),
        "UIDL": Rule(T, T, MN),
        "CAPA": Rule(T, T, M),
        "LANG": Rule(T, T, MN),
        "QUIT": Rule(U, U, S),
    },
    U: {},
    C: {},
}

# Every keyword any state knows: used to tell "wrong state" from "unknown".
KNOWN_KEYWORDS: frozenset[str] = frozenset(k for rules in TRANSITIONS.values() for k in rules)


def rule_for(state: State, keyword: str) -> Rule | None:
    """The table entry for ``keyword`` in ``state``, or None if the command is not allowed there."""
    return TRANSITIONS.get(state, {}).get(keyword.upper())


def response_shape(state: State, keyword: str, has_argument: bool) -> Shape:
    """The shape of a *positive* answer to ``keyword`` sent in ``state``.

    Negative answers are always single-line; a command without a rule gets a
    single line too.  The result is never MULTI_IF_NO_ARG: that is resolved
    here from ``has_argument``.
    """
    rule = rule_for(state, keyword)
    if rule is None:
        return Shape.SINGLE
    if rule.shape is Shape.MULTI_IF_NO_ARG:
        return Shape.SINGLE if has_argument else Shape.MULTI
    return rule.shape


def next_state(state: State, keyword: str, positive: bool) -> State:
    """The state after the server answered ``keyword`` positively or negatively."""
    rule = rule_for(state, keyword)
    if rule is None:
        return state
    return rule.on_ok if positive else rule.on_err


def split_command(line: str) -> tuple[str, list[str]]:
    """Split a command line into its upper-cased keyword and arguments."""
    parts = line.split(" ")
    return parts[0].upper(), [p for p in parts[1:] if p != ""]
