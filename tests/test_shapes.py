"""What scenarios rely on in their corpus (shapes:), and what they use of a mailbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.messages import corpus
from conformance.scenario.loader import ScenarioError, load_all, parse_scenario
from conformance.scenario.uses import delivers, highest_message
from conformance.shapes import SHAPES, unmet
from tests.mail_system import ordinary_messages

SUITES = Path(__file__).resolve().parents[1] / "suites"

HEAD = "id: t.x\ntitle: t\nrequirements: RFC1939-5.STAT-1\n"


def test_every_scenario_s_corpus_has_the_shapes_it_declares() -> None:
    loaded, errors = load_all([SUITES])
    assert not errors
    declaring = [s for s in loaded if s.shapes]
    assert len(declaring) >= 10
    for scenario in declaring:
        messages = corpus(scenario.mailbox)
        named = highest_message(scenario)
        for name in scenario.shapes:
            assert SHAPES[name].holds(messages, named), (scenario.id, name)


def test_ordinary_mail_has_the_shapes_a_mailbox_can_have_and_never_the_corpus_only_ones() -> None:
    few = ordinary_messages(3)
    assert unmet(["ascii", "exact-count"], few, 3) == []
    assert [s.name for s in unmet(["exact-count", "large", "8bit"], few, 2)] == [
        "exact-count",
        "large",
        "8bit",
    ]
    # The corpus's own dot lines are looked for line by line: only the corpus has them.
    assert [s.name for s in unmet(["dot-lines"], corpus("standard"), 2)] == ["dot-lines"]
    assert unmet(["empty-body", "8bit", "large"], corpus("standard"), 7) == []


def test_highest_message_reads_commands_placeholders_raw_lines_and_drops() -> None:
    scenario = parse_scenario(
        HEAD
        + "---\nlogin A\nC: RETR 2\nS: +OK\nC: LIST {size:4}\nS: +OK\n"
        + "when capa TOP\n  raw: TOP 6 0\\r\\n\n  S: +OK\nend\ndrop A mid-retr 3\n",
        "t.pop3",
    )
    assert highest_message(scenario) == 6
    assert not delivers(scenario)
    plain = parse_scenario(HEAD + "---\nlogin A\nC: STAT\nS: +OK\n", "t.pop3")
    assert highest_message(plain) == 0


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("shapes: dot-lines, round\n", "unknown shape 'round'"),
        ("mailbox: none\nshapes: large\n", "'shapes' describe messages, and 'mailbox: none'"),
        ("mailbox: empty\nshapes: ascii\n", "'mailbox: empty' has none"),
    ],
)
def test_shapes_the_loader_refuses(header: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(HEAD + header + "---\nlogin A\n", "t.pop3")
