"""'body' steps and the credential placeholders, end to end against the reference server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest

from conformance.cli import EXIT_FAIL, EXIT_OK, main
from conformance.placeholders import PlaceholderError, apop_digest, cram_md5_answer, expand_raw
from conformance.scenario.loader import parse_scenario
from conformance.secrets import REDACTED
from conformance.target import Account

HEADER = """id: t.{name}
title: t
requirements: RFC2449-5-1
mailbox: none
---
"""


def run_one(tmp_path: Path, name: str, steps: str) -> tuple[int, list[dict[str, object]]]:
    file = tmp_path / f"{name}.pop3"
    file.write_text(HEADER.format(name=name) + steps, encoding="utf-8")
    out = tmp_path / f"out-{name}"
    code = main(["run", "--suites", str(file), "--report-dir", str(out)])
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return code, doc["scenarios"][0]["checks"]


def test_body_has_passes_when_a_line_matches(tmp_path: Path) -> None:
    code, checks = run_one(tmp_path, "has", "open A\nC: CAPA\nS: +OK\nbody has /^UIDL$/\n")
    assert code == EXIT_OK
    assert [c["outcome"] for c in checks][-1] == "pass"


def test_body_lacks_fails_when_a_line_matches(tmp_path: Path) -> None:
    code, checks = run_one(tmp_path, "lacks", "open A\nC: CAPA\nS: +OK\nbody lacks /^UIDL/\n")
    assert code == EXIT_FAIL
    last = checks[-1]
    assert last["outcome"] == "fail"
    assert "UIDL" in str(last["actual"])


def test_body_all_names_the_lines_that_do_not_match(tmp_path: Path) -> None:
    code, checks = run_one(tmp_path, "all", "open A\nC: CAPA\nS: +OK\nbody all /^U/\n")
    assert code == EXIT_FAIL
    assert "not matching" in str(checks[-1]["actual"])


def test_body_after_err_is_info_not_a_verdict(tmp_path: Path) -> None:
    code, checks = run_one(tmp_path, "err", "open A\nC: STAT\nS: -ERR\nbody has /x/\n")
    assert code == EXIT_OK
    assert checks[-1]["outcome"] == "info"


def test_body_needs_an_answer_first() -> None:
    with pytest.raises(Exception, match="body"):
        parse_scenario(HEADER.format(name="x") + "open A\nbody has x\n", "x.pop3")


def test_plain_placeholder_logs_in_and_hides_the_password(tmp_path: Path) -> None:
    # The reference server keeps PLAIN for TLS (RFC 2595 section 6).
    steps = "open A\nC: STLS\nS: +OK\ntls A\nC: AUTH PLAIN {plain}\nS: +OK\nC: STAT\nS: +OK\n"
    code, checks = run_one(tmp_path, "plain", steps)
    assert code == EXIT_OK, checks
    report = (tmp_path / "out-plain" / "results.json").read_text(encoding="utf-8")
    secret = base64.b64encode(b"\0alice\0").decode()[:6]
    assert secret not in report


def test_apop_digest_matches_rfc1939_example() -> None:
    # RFC 1939 section 7 gives this exact example.
    stamp = "<1896.697170952@dbc.mtview.ca.us>"
    assert apop_digest(stamp, "tanstaaf") == "c4c9334bac560ecc979e58001b3e22fb"


def test_cram_md5_matches_rfc2195_example() -> None:
    # RFC 2195 section 2 example: user "tim", secret "tanstaaftanstaaf".
    challenge = base64.b64encode(b"<1896.697170952@postoffice.reston.mci.net>").decode()
    answer = cram_md5_answer(challenge, "tim", "tanstaaftanstaaf")
    assert answer is not None
    assert base64.b64decode(answer) == b"tim b913a602c7eda7a495b4e6e7334d3890"
    assert cram_md5_answer("not base64!", "tim", "x") is None
    mac = hmac.new(b"k", b"c", hashlib.md5).hexdigest()
    assert len(mac) == 32


def test_s_after_open_judges_the_greeting(tmp_path: Path) -> None:
    code, checks = run_one(tmp_path, "greet", "open A\nS: /^\\+OK <[^<>]+@[^<>]+>/\n")
    assert code == EXIT_OK and checks[-1]["outcome"] == "pass"
    code, checks = run_one(tmp_path, "greet2", "open A\nS: /^\\+OK no-timestamp$/\n")
    assert code == EXIT_FAIL and checks[-1]["outcome"] == "fail"


def test_read_judges_each_answer_of_a_pipelined_batch(tmp_path: Path) -> None:
    steps = "login A\nraw: NOOP\\r\\nSTAT\\r\\nBOGUS\\r\\n\nS: +OK\nread A\nS: +OK\nread\nS: +OK\n"
    code, checks = run_one(tmp_path, "pipe", steps)
    # The third answer is -ERR (an unknown command), so the third S: fails.
    assert [c["outcome"] for c in checks][-3:] == ["pass", "pass", "fail"]
    assert code == EXIT_FAIL


def test_raw_expands_placeholders_and_hides_the_password(tmp_path: Path) -> None:
    steps = (
        "open A\nraw: USER {user}\\r\\nPASS {password}\\r\\nSTAT\\r\\n\n"
        "S: +OK\nread\nS: +OK\nread\nS: /^\\+OK [0-9]+ [0-9]+$/\n"
    )
    code, checks = run_one(tmp_path, "rawlogin", steps)
    assert code == EXIT_OK, checks
    doc = json.loads((tmp_path / "out-rawlogin" / "results.json").read_text(encoding="utf-8"))
    sent = [e["text"] for e in doc["scenarios"][0]["transcript"] if e["direction"] == "C"]
    assert sent[:3] == ["USER alice", f"PASS {REDACTED}", "STAT"]


def test_raw_sends_a_placeholder_value_as_it_is() -> None:
    # A backslash in a password is no escape; an escape beside a placeholder still is.
    accounts = [Account("al\\x41", "p\\w{d")]
    data = expand_raw(r"USER {user}\tPASS {password}\r\n", accounts, None)
    assert data == b"USER al\\x41\tPASS p\\w{d\r\n"
    with pytest.raises(PlaceholderError):
        expand_raw("USER {user2}\\r\\n", accounts, None)


def test_read_without_a_pending_batch_is_an_error(tmp_path: Path) -> None:
    code, checks = run_one(tmp_path, "noread", "login A\nC: NOOP\nS: +OK\nread A\nS: +OK\n")
    assert code == EXIT_FAIL
    assert checks[-1]["outcome"] == "error" and "raw:" in str(checks[-1]["actual"])


def test_head_looks_only_at_the_header_block(tmp_path: Path) -> None:
    header = HEADER.replace("mailbox: none", "mailbox: small")
    file = tmp_path / "head.pop3"
    file.write_text(
        header.format(name="head")
        + "login A\nC: RETR 1\nS: +OK\nhead has /^Subject:/\nbody has /^First small/\n"
        + "head has /^First small/\n",
        encoding="utf-8",
    )
    code = main(["run", "--suites", str(file), "--report-dir", str(tmp_path / "o")])
    checks = json.loads((tmp_path / "o" / "results.json").read_text())["scenarios"][0]["checks"]
    assert [c["outcome"] for c in checks][-3:] == ["pass", "pass", "fail"]
    assert code == EXIT_FAIL
