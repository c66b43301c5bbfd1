"""Grading: alternatives, conditions, labels and the level of the requirement."""

from __future__ import annotations

from conformance.model import Discrepancy
from conformance.outcomes import Outcome
from conformance.pop3 import Response, parse_status_line
from conformance.scenario.steps import Alternative, Condition, Where
from conformance.verdicts import grade_check

W = Where("t.pop3", 1)


def alt(form: str = "status", **kw: object) -> Alternative:
    return Alternative(form=form, where=W, **kw)  # type: ignore[arg-type]


def grade(
    alts: list[Alternative],
    response: Response,
    req: str = "RFC1939-5.DELE-2",
    caps: frozenset[str] = frozenset(),
    discrepancies: list[Discrepancy] | None = None,
    keyword: str = "",
) -> tuple[Outcome, str, Alternative | None]:
    check, matched = grade_check(
        req_id=req,
        alternatives=tuple(alts),
        response=response,
        expanded_words=[list(a.words) for a in alts],
        model_discrepancies=lambda: discrepancies or [],
        capabilities=caps,
        labels=set(),
        where="t.pop3:1",
        keyword=keyword,
    )
    return check.outcome, check.requirement, matched


def test_status_match_passes() -> None:
    outcome, req, _ = grade([alt(status="-ERR")], parse_status_line(b"-ERR no\r\n"))
    assert outcome is Outcome.PASS and req == "RFC1939-5.DELE-2"


def test_mismatch_of_a_must_fails() -> None:
    outcome, _, matched = grade([alt(status="-ERR")], parse_status_line(b"+OK\r\n"))
    assert outcome is Outcome.FAIL and matched is None


def test_mismatch_of_a_should_is_non_strict() -> None:
    outcome, _, _ = grade(
        [alt(status="-ERR")], parse_status_line(b"+OK\r\n"), req="RFC1939-7.UIDL-6"
    )
    assert outcome is Outcome.NON_STRICT


def test_mismatch_of_a_may_is_info() -> None:
    outcome, _, _ = grade([alt(status="-ERR")], parse_status_line(b"+OK\r\n"), req="RFC1939-3-14")
    assert outcome is Outcome.INFO


def test_response_code_must_match() -> None:
    a = [alt(status="-ERR", code="IN-USE")]
    assert grade(a, parse_status_line(b"-ERR [in-use] busy\r\n"))[0] is Outcome.PASS
    assert grade(a, parse_status_line(b"-ERR busy\r\n"))[0] is Outcome.FAIL


def test_words_prefix() -> None:
    a = [alt(status="+OK", words=("2", "320"))]
    assert grade(a, parse_status_line(b"+OK 2 320 octets\r\n"))[0] is Outcome.PASS
    assert grade(a, parse_status_line(b"+OK 2 321\r\n"))[0] is Outcome.FAIL


def test_first_matching_alternative_grades() -> None:
    alts = [
        alt(status="-ERR", code="IN-USE", label="locked"),
        alt(status="-ERR", condition=Condition("capa", "RESP-CODES", negate=True), label="locked"),
        alt(status="+OK", label="snapshot"),
        alt(status="-ERR", grade="fail", note="RESP-CODES promises [IN-USE]"),
    ]
    bare = parse_status_line(b"-ERR locked\r\n")
    # Without RESP-CODES a bare -ERR is a permitted refusal ...
    assert grade(alts, bare)[0] is Outcome.PASS
    # ... with RESP-CODES advertised it is the explicitly failing alternative.
    outcome, _, matched = grade(alts, bare, caps=frozenset({"RESP-CODES"}))
    assert outcome is Outcome.FAIL and matched is alts[3]
    assert grade(alts, parse_status_line(b"+OK\r\n"))[2] is alts[2]


def test_timeout_and_close_match_no_status() -> None:
    a = [alt(status="+OK")]
    assert grade(a, Response(kind="timeout"))[0] is Outcome.FAIL
    assert grade(a, Response(kind="closed"))[0] is Outcome.FAIL
    assert grade([alt("closed")], Response(kind="closed"))[0] is Outcome.PASS
    assert grade([alt("timeout", grade="info")], Response(kind="timeout"))[0] is Outcome.INFO


def test_model_discrepancy_names_its_requirement() -> None:
    d = [Discrepancy("RFC1939-5.RETR-2", "-ERR", "+OK")]
    outcome, req, _ = grade([alt("model")], parse_status_line(b"+OK\r\n"), discrepancies=d)
    assert outcome is Outcome.FAIL and req == "RFC1939-5.RETR-2"


def test_a_tolerated_discrepancy_is_recorded_as_info() -> None:
    # The argument rule: "LIST  1" taken as "LIST 1" is recorded (RFC1939-3-5), never a fail,
    # even though the catalog grades RFC1939-3-5 itself as MUST.
    d = [Discrepancy("RFC1939-3-5", "-ERR", "+OK 1 200", tolerated=True)]
    outcome, req, matched = grade(
        [alt("model")], parse_status_line(b"+OK 1 200\r\n"), discrepancies=d
    )
    assert (outcome, req) == (Outcome.INFO, "RFC1939-3-5") and matched is not None
    # Beside a real discrepancy it grades nothing: the broken requirement does.
    d.append(Discrepancy("RFC1939-5.LIST-5", "+OK 1 200", "+OK 1 201"))
    outcome, req, _ = grade([alt("model")], parse_status_line(b"+OK 1 201\r\n"), discrepancies=d)
    assert (outcome, req) == (Outcome.FAIL, "RFC1939-5.LIST-5")


def test_regex() -> None:
    a = [alt("regex", pattern=r"^\+OK \d+ \d+$")]
    assert grade(a, parse_status_line(b"+OK 1 2\r\n"))[0] is Outcome.PASS
    assert grade(a, parse_status_line(b"+OK one\r\n"))[0] is Outcome.FAIL


def test_regex_judges_a_sasl_continuation_line() -> None:
    a = [alt("regex", pattern=r"^\+ $")]
    assert grade(a, parse_status_line(b"+ \r\n"), req="RFC5034-4-5")[0] is Outcome.PASS
    bad = parse_status_line(b"+ not base64!\r\n")
    assert grade(a, bad, req="RFC5034-4-5")[0] is Outcome.FAIL
    # A status form never matches a continuation: its status is "+".
    assert grade([alt(status="+OK")], parse_status_line(b"+ \r\n"))[0] is Outcome.FAIL


# Courier: "TOP 1 x" answered +OK in a scenario about response codes.
TOP_INVALID = [Discrepancy("RFC1939-7.TOP-3", "-ERR: 'x' is not a number", "+OK")]


def test_an_invalid_command_accepted_is_graded_against_its_own_rule_not_the_scenarios() -> None:
    """One root cause, one requirement: the +OK to TOP 1 x fails TOP-3 (as the scenario
    about TOP does), instead of a non-strict against the response-code rule."""
    outcome, req, _ = grade(
        [alt("regex", pattern=r"^-ERR( ?$| [^\[])")],
        parse_status_line(b"+OK headers follow.\r\n"),
        req="RFC2449-8-1",
        discrepancies=TOP_INVALID,
        keyword="TOP",
    )
    assert (outcome, req) == (Outcome.FAIL, "RFC1939-7.TOP-3")


def test_a_scenario_about_the_commands_own_validity_keeps_its_requirement() -> None:
    # USER in TRANSACTION answered +OK: the scenario checks RFC1939-7.USER-1.
    wrong_state = [Discrepancy("RFC1939-3-13", "-ERR: USER is not allowed", "+OK")]
    outcome, req, _ = grade(
        [alt(status="-ERR")],
        parse_status_line(b"+OK\r\n"),
        req="RFC1939-7.USER-1",
        discrepancies=wrong_state,
        keyword="USER",
    )
    assert (outcome, req) == (Outcome.FAIL, "RFC1939-7.USER-1")


def test_an_answer_that_is_no_status_line_is_left_to_the_passive_finding() -> None:
    # Mailutils echoes an over-long line: not-a-status already fails it.
    garbage = parse_status_line(b"XYZZ aaaa\r\n")
    unknown = [Discrepancy("RFC1939-3-12", "-ERR", "XYZZ aaaa")]
    outcome, req, _ = grade(
        [alt(status="-ERR")], garbage, req="RFC1939-3-14", discrepancies=unknown, keyword="XYZZ"
    )
    assert (outcome, req) == (Outcome.INFO, "RFC1939-3-14")
