"""The state table: the shapes and transitions every other module looks up."""

from __future__ import annotations

import pytest

from conformance.pop3 import (
    KNOWN_KEYWORDS,
    TRANSITIONS,
    Shape,
    State,
    next_state,
    response_shape,
    rule_for,
    split_command,
)


@pytest.mark.parametrize(
    ("state", "line", "shape"),
    [
        (State.TRANSACTION, "LIST", Shape.MULTI),
        (State.TRANSACTION, "LIST 1", Shape.SINGLE),
        (State.TRANSACTION, "UIDL", Shape.MULTI),
        (State.TRANSACTION, "uidl 2", Shape.SINGLE),
        (State.TRANSACTION, "RETR 1", Shape.MULTI),
        (State.TRANSACTION, "TOP 1 0", Shape.MULTI),
        (State.TRANSACTION, "STAT", Shape.SINGLE),
        (State.TRANSACTION, "CAPA", Shape.MULTI),
        (State.AUTHORIZATION, "CAPA", Shape.MULTI),
        # Wrong-state commands get a single -ERR line, whatever their shape elsewhere.
        (State.AUTHORIZATION, "LIST", Shape.SINGLE),
        (State.AUTHORIZATION, "RETR 1", Shape.SINGLE),
        (State.TRANSACTION, "USER x", Shape.SINGLE),
        (State.TRANSACTION, "XYZZY", Shape.SINGLE),
    ],
)
def test_shapes(state: State, line: str, shape: Shape) -> None:
    keyword, args = split_command(line)
    assert response_shape(state, keyword, bool(args)) is shape


def test_login_path() -> None:
    s = next_state(State.AUTHORIZATION, "USER", True)
    assert s is State.AUTHORIZATION_USER
    assert next_state(s, "PASS", False) is State.AUTHORIZATION
    assert next_state(s, "PASS", True) is State.TRANSACTION
    assert next_state(State.TRANSACTION, "QUIT", True) is State.UPDATE


def test_pass_only_after_user() -> None:
    assert rule_for(State.AUTHORIZATION, "PASS") is None
    assert rule_for(State.AUTHORIZATION_USER, "PASS") is not None


def test_quit_in_authorization_skips_update() -> None:
    assert next_state(State.AUTHORIZATION, "QUIT", True) is State.CLOSED


def test_wrong_state_keeps_state() -> None:
    assert next_state(State.AUTHORIZATION, "DELE", True) is State.AUTHORIZATION
    assert next_state(State.TRANSACTION, "PASS", True) is State.TRANSACTION


def test_table_is_complete_for_rfc1939() -> None:
    for kw in ("STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "QUIT", "TOP", "UIDL"):
        assert kw in TRANSITIONS[State.TRANSACTION]
    for kw in ("USER", "APOP", "QUIT"):
        assert kw in TRANSITIONS[State.AUTHORIZATION]
    assert "PASS" in KNOWN_KEYWORDS
