"""The spec drives the docs, the model, the explorer and the reference server check."""

from __future__ import annotations

from pathlib import Path

from conformance.explore.machine import DRAWN_KEYWORDS
from conformance.model import ORACLES
from conformance.pop3 import COMMANDS, SASL_RESPONSE, TRANSITIONS, State
from conformance.pop3.describe import document
from conformance.server.session import dispatch_keywords

ROOT = Path(__file__).resolve().parents[1]


def test_docs_state_machine_is_generated_from_the_spec() -> None:
    on_disk = (ROOT / "docs" / "state-machine.md").read_text(encoding="utf-8")
    assert on_disk == document(), "stale: run python tools/build_state_machine.py"


def test_the_document_shows_every_keyword_and_state() -> None:
    doc = document()
    for keyword in COMMANDS:
        assert f"`{COMMANDS[keyword].usage()}`" in doc
    for state in State:
        assert state.value in doc
    assert "```mermaid" in doc


def test_every_spec_keyword_has_an_oracle() -> None:
    assert set(ORACLES) == set(COMMANDS)


def test_the_sasl_exchange_is_a_row_of_the_table() -> None:
    row = TRANSITIONS[State.AUTHORIZATION_SASL]
    assert set(row) == {SASL_RESPONSE}
    rule = row[SASL_RESPONSE]
    assert (rule.on_ok, rule.on_err, rule.on_continue) == (
        State.TRANSACTION,
        State.AUTHORIZATION,
        State.AUTHORIZATION_SASL,
    )
    assert TRANSITIONS[State.AUTHORIZATION]["AUTH"].on_continue is State.AUTHORIZATION_SASL
    assert TRANSITIONS[State.UPDATE] == {}


# The reference server's phases, named as the harness's states.
_PHASES = {
    "AUTHORIZATION": State.AUTHORIZATION,
    "AUTHORIZATION_USER": State.AUTHORIZATION_USER,
    "SASL": State.AUTHORIZATION_SASL,
    "TRANSACTION": State.TRANSACTION,
}


def test_the_reference_servers_dispatch_table_matches_the_spec() -> None:
    """The server does not import the core (a shared bug would go unseen); its own
    table must still answer exactly the commands the spec makes valid in each state."""
    served = dispatch_keywords()
    assert set(served) == set(_PHASES)
    for phase, keywords in served.items():
        state = _PHASES[phase]
        expected = {k for k in TRANSITIONS[state] if k != SASL_RESPONSE}
        assert keywords == expected, phase


def test_the_explorer_draws_every_transaction_command_from_the_spec() -> None:
    transaction = {k for k, s in COMMANDS.items() if State.TRANSACTION in s.states}
    # QUIT ends a session: the machine has rules of its own for that.
    assert transaction - {"QUIT"} == DRAWN_KEYWORDS
