"""Every CAPA line against its registration (issue 13 part 6), graded once per run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.campaign import finding_outcome
from conformance.cli import EXIT_FAIL, main
from conformance.outcomes import Outcome
from conformance.pop3 import CAPA_FINDINGS, REGISTRY, State, capability_findings
from conformance.probe import ServerProfile

A, T = State.AUTHORIZATION, State.TRANSACTION


def found(lines: list[str], state: State = A) -> list[tuple[str, str]]:
    findings = capability_findings([line.encode() for line in lines], state)
    return [(f.code, f.requirement) for f in findings]


# What the lab servers and the reference server send: registered or private, all well formed.
WELL_FORMED = [
    "TOP",
    "UIDL",
    "RESP-CODES",
    "PIPELINING",
    "AUTH-RESP-CODE",
    "USER",
    "SASL PLAIN LOGIN",
    "SASL SCRAM-SHA-512 SCRAM-SHA-1 DIGEST-MD5 CRAM-MD5 NTLM PLAIN LOGIN",
    "EXPIRE NEVER",
    "EXPIRE 30",
    "LOGIN-DELAY 0",
    "LOGIN-DELAY 10",
    "UTF8 USER",
    "UTF8",
    "LANG",
    "IMPLEMENTATION Cyrus POP3 3.6.1-Debian-3.6.1-4+deb12u5",
    "X-PRIVATE whatever it likes",
    "expire never",  # tags and keyword arguments are case-insensitive
]


@pytest.mark.parametrize("state", [A, T])
def test_well_formed_lines_have_no_finding(state: State) -> None:
    assert found(WELL_FORMED, state) == []
    assert found(["STLS", "EXPIRE 5 USER", "LOGIN-DELAY 900 USER"], A) == []


@pytest.mark.parametrize(
    ("line", "code", "requirement"),
    [
        ("EXPIRE 30 days", "capa-expire", "RFC2449-6.7-1"),
        ("EXPIRE", "capa-expire", "RFC2449-6.7-1"),
        ("EXPIRE -1", "capa-expire", "RFC2449-6.7-1"),
        # GNU Mailutils 3.15: the tag glued to its argument.
        ("EXPIRENEVER", "capa-expire", "RFC2449-6.7-1"),
        ("LOGIN-DELAY soon", "capa-login-delay", "RFC2449-6.5-2"),
        ("LOGIN-DELAY10", "capa-login-delay", "RFC2449-6.5-2"),
        ("TOP 1", "capa-top", "RFC2449-6.1-1"),
        ("USER yes", "capa-user", "RFC2449-6.2-1"),
        ("PIPELINING on", "capa-pipelining", "RFC2449-6.6-1"),
        ("RESP-CODES x", "capa-resp-codes", "RFC2449-6.4-1"),
        ("UIDL x", "capa-uidl", "RFC2449-6.8-1"),
        ("AUTH-RESP-CODE x", "capa-auth-resp-code", "RFC3206-6-1"),
        ("STLS x", "capa-stls", "RFC2595-8-1"),
        ("UTF8 ALL", "capa-utf8", "RFC6856-2-1"),
        ("LANG en", "capa-lang", "RFC6856-3-1"),
        ("SASL PLAIN,LOGIN", "capa-sasl", "RFC5034-3-1"),
        ("SASL A-MECHANISM-NAME-OF-21", "capa-sasl", "RFC5034-3-1"),
        ("IMPLEMENTATION", "capa-implementation", "RFC2449-6.9-1"),
        ("CAPA", "capa-unregistered", "RFC2449-9-1"),
        ("TOP  ", "capa-line", "RFC2449-5-5"),
        ("SASL  PLAIN", "capa-line", "RFC2449-5-5"),
        ("V1.0", "capa-line", "RFC2449-5-5"),
        ("IMPLEMENTATION " + "x" * 500, "capa-line", "RFC2449-5-5"),
    ],
)
def test_a_line_that_breaks_its_registration_is_a_finding_against_it(
    line: str, code: str, requirement: str
) -> None:
    assert found([line]) == [(code, requirement)]


def test_the_per_state_rules() -> None:
    # "optionally followed by USER in AUTHENTICATION state": not after login.
    assert found(["EXPIRE 5 USER"], T) == [("capa-expire", "RFC2449-6.7-1")]
    assert found(["LOGIN-DELAY 900 USER"], T) == [("capa-login-delay", "RFC2449-6.5-2")]
    # RFC 2595 section 8: STLS is announced in the AUTHORIZATION state only.
    assert found(["STLS"], T) == [("capa-stls", "RFC2595-8-1")]


def test_grades_follow_the_catalog() -> None:
    profile = ServerProfile(greeting="+OK", has_capa=True, capa_lines=("TOP",))
    grade = {code: finding_outcome(req, code, profile) for code, req in CAPA_FINDINGS.items()}
    # An unregistered tag is recorded; IMPLEMENTATION is a MAY; the rest are MUSTs.
    assert grade["capa-unregistered"] is Outcome.INFO
    assert grade["capa-implementation"] is Outcome.INFO
    assert grade["capa-expire"] is Outcome.FAIL
    assert grade["capa-line"] is Outcome.FAIL


def test_every_registration_has_a_code_of_its_own() -> None:
    codes = [r.code for r in REGISTRY.values()]
    assert len(set(codes)) == len(codes)
    assert set(codes) <= set(CAPA_FINDINGS)


def test_the_runner_checks_every_capa_answer_passively(tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["run", "--defect", "expire-glued", "--select", "ext.capa.both-states"]
    assert main([*argv, "--report-dir", str(out)]) == EXIT_FAIL
    passive = json.loads((out / "results.json").read_text(encoding="utf-8"))["passive"]
    assert [(p["code"], p["outcome"], p["count"]) for p in passive] == [("capa-expire", "fail", 3)]
