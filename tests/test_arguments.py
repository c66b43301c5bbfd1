"""The argument rule, and the argument suites generated from the spec."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import find, settings

from conformance.explore.machine import DELETIONS
from conformance.placeholders import expand_raw
from conformance.pop3 import COMMANDS, NUMBER_VARIANTS, RULE, State, check_line, split_command
from conformance.runner.checks import split_line
from conformance.scenario.escapes import decode_escapes
from conformance.scenario.loader import load_all
from conformance.scenario.steps import Send, Step, When
from tests.tool_loader import load_tool

REPO = Path(__file__).resolve().parent.parent


tool = load_tool("build_argument_suites")


def test_the_argument_suites_are_generated_from_the_spec() -> None:
    assert tool.stale() == [], "stale: run python tools/build_argument_suites.py"


def test_a_stale_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tool, "FOLDER", tmp_path)
    assert tool.main([]) == 0
    (tmp_path / "list.pop3").write_text("edited by hand\n", encoding="utf-8")
    (tmp_path / "extra.pop3").write_text("", encoding="utf-8")
    assert tool.stale() == ["extra.pop3", "list.pop3"]
    assert tool.main(["--check"]) == 1


def test_every_keyword_has_a_suite_and_every_argument_a_value() -> None:
    names = set(tool.render())
    assert names == {"no-command.pop3", *(f"{k.lower()}.pop3" for k in COMMANDS)}
    for spec in COMMANDS.values():
        for arg in spec.args:
            assert arg.name in tool.VALUES, f"{spec.keyword}: no value for {arg.name}"


def test_the_variants_are_what_the_rule_grades() -> None:
    """Each generated line, as a server reads it, has the problem its label names."""
    expected_kind = {
        "of": "missing",
        "an argument too many": "extra",
        "two spaces": "spacing",
        "a TAB": "spacing",
        "a trailing space": "spacing",
    }
    numbers = {what: text for text, what in NUMBER_VARIANTS}
    for spec in COMMANDS.values():
        for variant in tool.variants(spec):
            line = decode_escapes(variant.text).decode()
            problem = check_line(spec, line)
            kind = problem.kind if problem is not None else None
            if "a bare CR" in variant.what:
                # Taken as a separator for the answer's shape, but never tolerated.
                assert kind == "cr" and split_command(line)[0] == spec.keyword, line
            elif " of " in variant.what:
                assert kind == "missing", line
            elif variant.what in expected_kind:
                assert kind == expected_kind[variant.what], line
            else:
                arg_what = variant.what.split(": ", 1)[1]
                text = numbers[arg_what]
                want = {"01": "zeros", "4294967297": None, "18446744073709551617": None}
                assert kind == want.get(text, "bad"), line


def test_the_brief_forms_are_all_tried() -> None:
    texts = {v.text for spec in COMMANDS.values() for v in tool.variants(spec)}
    for wanted in (
        "RETR",
        "LIST 1 x",
        "RETR x",
        "RETR 1x",
        "RETR +1",
        "RETR -1",
        "RETR 01",
        "RETR 4294967297",
        "RETR 18446744073709551617",
        "LIST\\t1",
        "LIST  1",
        "LIST 1 ",
        "LIST\\r1",
        "USER",
        "USER {user} x",
        "NOOP x",
    ):
        assert wanted in texts, wanted
    assert {v.what for v in tool.NO_COMMAND} >= {"an empty line"}


def test_a_command_a_positive_answer_moves_gets_a_session_per_line() -> None:
    assert tool.alone(COMMANDS["USER"], State.AUTHORIZATION)
    assert tool.alone(COMMANDS["PASS"], State.AUTHORIZATION_USER)
    assert tool.alone(COMMANDS["QUIT"], State.TRANSACTION)
    assert not tool.alone(COMMANDS["USER"], State.AUTHORIZATION_USER)
    assert not tool.alone(COMMANDS["CAPA"], State.AUTHORIZATION_USER)
    assert not tool.alone(COMMANDS["RETR"], State.TRANSACTION)
    assert not tool.alone(COMMANDS["RETR"], State.AUTHORIZATION)  # refused there


def test_the_rule_names_a_grade_for_both_answers() -> None:
    kinds = {t.kind for t in RULE}
    assert kinds == {"missing", "extra", "bad", "range", "cr", "spacing", "zeros"}
    for treatment in RULE:
        assert {treatment.refused, treatment.accepted} <= {"pass", "fail", "info"}
        assert "pass" in (treatment.refused, treatment.accepted)


@pytest.mark.parametrize("text", [text for text, _ in NUMBER_VARIANTS])
def test_the_explorer_draws_every_number_variant(text: str) -> None:
    # The explorer and the suites try the same numbers, judged by the same model.
    found = find(
        DELETIONS, lambda line: line == f"DELE {text}", settings=settings(max_examples=2000)
    )
    assert found == f"DELE {text}"


@pytest.mark.parametrize(
    ("name", "octets"),
    [("255", 255), ("256", 256), ("512", 512), ("1k", 1024), ("8k", 8192), ("64k", 65536)],
)
def test_each_long_line_scenario_sends_the_length_it_names(name: str, octets: int) -> None:
    scenarios, errors = load_all([REPO / "suites" / "ext" / "capa" / f"long-line-{name}.pop3"])
    assert not errors and len(scenarios) == 1

    def sends(steps: tuple[Step, ...] | list[Step]) -> list[Send]:
        out: list[Send] = []
        for step in steps:
            if isinstance(step, When):
                out += sends(step.body)
            elif isinstance(step, Send) and step.raw:
                out.append(step)
        return out

    (raw,) = sends(scenarios[0].steps)
    data = expand_raw(raw.text, [], None)
    assert len(data) == octets
    # The tail a cut line would leave, spaces skipped, is a command that marks a message.
    assert data.startswith(b"XYZZ ") and data.endswith(b" DELE 1\r\n")


def test_a_line_a_server_may_have_cut_is_named() -> None:
    assert split_line("NOOP") is None
    assert split_line("X" * 253) is None  # 255 octets with the CRLF
    assert split_line("X" * 254) == "256 octets"
    assert split_line("LIST\r1") == "a bare CR inside"


def test_a_line_judged_again_gets_the_same_problem_and_no_secret_line_is_kept() -> None:
    from conformance.pop3.arguments import _CHECKED, _check_line

    lines = ["LIST 0042", "LIST  1", "DELE x", "TOP 1", "STAT", "UIDL 9 9"]
    first = [check_line(COMMANDS[split_command(line)[0]], line) for line in lines]
    again = [check_line(COMMANDS[split_command(line)[0]], line) for line in lines]
    assert again == first == [_check_line(COMMANDS[split_command(ln)[0]], ln) for ln in lines]
    assert [p and p.kind for p in first] == ["zeros", "spacing", "bad", "missing", None, "extra"]
    for line in ("PASS s3cret 0", "APOP bob 0123456789abcdef", "AUTH PLAIN c2VjcmV0"):
        check_line(COMMANDS[split_command(line)[0]], line)
        assert not any(line in key for key in _CHECKED), line
