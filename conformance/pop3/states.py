"""The states of a POP3 session and the shapes of its answers.

RFC 1939 names three states (AUTHORIZATION, TRANSACTION, UPDATE).  The
harness needs three more to say exactly what the next line means:
AUTHORIZATION_USER (PASS is valid only right after a successful USER),
AUTHORIZATION_SASL (the next client line is a SASL response, RFC 5034) and
CLOSED (the connection is over).
"""

from __future__ import annotations

import enum


class State(enum.Enum):
    AUTHORIZATION = "AUTHORIZATION"
    # After a positive answer to USER: RFC 1939 section 7 allows PASS only
    # "immediately after a successful USER command".
    AUTHORIZATION_USER = "AUTHORIZATION_USER"
    # Inside a SASL exchange (RFC 5034): the server sent "+ challenge".
    AUTHORIZATION_SASL = "AUTHORIZATION_SASL"
    TRANSACTION = "TRANSACTION"
    UPDATE = "UPDATE"
    # QUIT from AUTHORIZATION ends the session without an UPDATE state (RFC 1939
    # section 6); every state ends here when the connection closes.
    CLOSED = "CLOSED"

    # Members are singletons compared by identity: the C-level identity hash
    # spares Enum's Python-level one on every table lookup.
    __hash__ = object.__hash__


IN_AUTHORIZATION = frozenset(
    {State.AUTHORIZATION, State.AUTHORIZATION_USER, State.AUTHORIZATION_SASL}
)


class Shape(enum.Enum):
    SINGLE = "single"
    MULTI = "multi"
    # LIST and UIDL (and LANG, AUTH) are multi-line only when given no argument.
    MULTI_IF_NO_ARG = "multi-if-no-arg"
