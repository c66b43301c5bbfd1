"""The scenario loader: every grammar element of suites/README.md, and every error."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from conformance.scenario import (
    ScenarioError,
    discover,
    load_all,
    load_scenario,
    parse_scenario,
)
from conformance.scenario.steps import (
    Alternative,
    Check,
    Condition,
    End,
    Eventually,
    Expect,
    ExpectClosed,
    Login,
    Open,
    Send,
    Sleep,
    Snapshot,
    Unchanged,
    Use,
    When,
    Where,
)

HEADER = """\
id: t.one
title: A test scenario
requirements: RFC1939-5.DELE-1, RFC1939-5.STAT-2
---
"""
# The steps after HEADER start on this line.
FIRST = 5
F = "t.pop3"


def parse(steps: str, header: str = HEADER) -> list[object]:
    return list(parse_scenario(header + steps, F).steps)


def at(line: int) -> Where:
    return Where(F, line)


def error_of(text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, F)
    return info.value


# --------------------------------------------------------------------- header


def test_header_fields_all_parsed() -> None:
    text = """\
# a comment before the header
id: core.dele.marks-only
title: DELE only marks
requirements: RFC1939-5.DELE-1,
  RFC1939-5.STAT-2, RFC1957-1
tags: deletion, core
needs: uidl, Resp-Codes
mailbox: small
accounts: 2
destructive: yes
timeout: 20
description: A session marks message 1
  and checks STAT.

expectation: DELE answers +OK.
---
login A
"""
    s = parse_scenario(text, F)
    assert s.id == "core.dele.marks-only"
    assert s.title == "DELE only marks"
    assert s.file == F
    assert s.requirements == ["RFC1939-5.DELE-1", "RFC1939-5.STAT-2", "RFC1957-1"]
    assert s.tags == ["deletion", "core"]
    assert s.needs == ["UIDL", "RESP-CODES"]  # CAPA tags are case-insensitive
    assert s.mailbox == "small"
    assert s.accounts == 2
    assert s.destructive is True
    assert s.timeout == 20.0
    assert s.description == "A session marks message 1 and checks STAT."
    assert s.expectation == "DELE answers +OK."
    assert s.steps == [Login(at(17), "A", 1)]


def test_header_defaults() -> None:
    s = parse_scenario(HEADER, F)
    assert (s.mailbox, s.accounts, s.destructive, s.timeout) == ("standard", 1, False, None)
    assert (s.tags, s.needs, s.description, s.expectation, s.steps) == ([], [], "", "", [])


def test_crlf_line_ends_and_bom_are_accepted() -> None:
    text = "\ufeff" + (HEADER + "login A\nC: NOOP \n").replace("\n", "\r\n")
    s = parse_scenario(text, F)
    assert s.id == "t.one"
    # The trailing space of the C: line is kept; the CR of CRLF is not.
    assert s.steps[1] == Send(at(FIRST + 1), None, "NOOP ", b"", False)


# --------------------------------------------------------------------- steps


def test_session_steps() -> None:
    steps = parse(
        """\
open A
login B as 2
use A
check RFC1939-5.DELE-2
quit
quit B
close A
reset
half-close B
drop mid-command
drop A mid-retr 7
expect closed
expect closed B within 2.5 s
expect closed within 500ms
snapshot as before
snapshot B as after-drop
unchanged since before
unchanged A since after-drop
eventually 15 s: login C
eventually 2s: login D as 2
sleep 100 ms
sleep 1.5s
""",
        HEADER.replace("---", "accounts: 2\n---"),
    )
    n = FIRST + 1  # the header grew by one line
    assert steps == [
        Open(at(n), "A"),
        Login(at(n + 1), "B", 2),
        Use(at(n + 2), "A"),
        Check(at(n + 3), "RFC1939-5.DELE-2"),
        End(at(n + 4), None, "quit"),
        End(at(n + 5), "B", "quit"),
        End(at(n + 6), "A", "close"),
        End(at(n + 7), None, "reset"),
        End(at(n + 8), "B", "half-close"),
        End(at(n + 9), None, "mid-command"),
        End(at(n + 10), "A", "mid-retr", 7),
        ExpectClosed(at(n + 11), None, 5.0),
        ExpectClosed(at(n + 12), "B", 2.5),
        ExpectClosed(at(n + 13), None, 0.5),
        Snapshot(at(n + 14), None, "before"),
        Snapshot(at(n + 15), "B", "after-drop"),
        Unchanged(at(n + 16), None, "before"),
        Unchanged(at(n + 17), "A", "after-drop"),
        Eventually(at(n + 18), 15.0, Login(at(n + 18), "C", 1)),
        Eventually(at(n + 19), 2.0, Login(at(n + 19), "D", 2)),
        Sleep(at(n + 20), 0.1),
        Sleep(at(n + 21), 1.5),
    ]


def test_command_lines_are_kept_verbatim() -> None:
    steps = parse("login A\nC: USER {user}\nC:  LIST  1\nC:\nC: TOP {last} 0\n")
    assert steps[1:] == [
        Send(at(FIRST + 1), None, "USER {user}", b"", False),
        Send(at(FIRST + 2), None, " LIST  1", b"", False),
        Send(at(FIRST + 3), None, "", b"", False),  # an empty command line
        Send(at(FIRST + 4), None, "TOP {last} 0", b"", False),
    ]


def test_raw_escapes_are_decoded() -> None:
    steps = parse("login A\nraw: NO\\x4fP\\r\\n\\t\\0\\\\é\n")
    assert steps[1] == Send(
        at(FIRST + 1), None, "NO\\x4fP\\r\\n\\t\\0\\\\é", b"NOOP\r\n\t\0\\\xc3\xa9", True
    )


def test_status_expectations() -> None:
    steps = parse(
        """\
login A
C: STAT
S: +OK
S: +OK {count} {size}
S: -ERR [IN-USE]
S: -ERR [SYS/TEMP] try later
"""
    )
    expect = steps[2]
    assert isinstance(expect, Expect)
    assert expect.where == at(FIRST + 2)
    assert expect.alternatives == (
        Alternative("status", at(FIRST + 2), status="+OK"),
        Alternative("status", at(FIRST + 3), status="+OK", words=("{count}", "{size}")),
        Alternative("status", at(FIRST + 4), status="-ERR", code="IN-USE"),
        Alternative(
            "status", at(FIRST + 5), status="-ERR", code="SYS/TEMP", words=("try", "later")
        ),
    )


def test_other_forms_and_modifiers() -> None:
    steps = parse(
        """\
login A
C: PASS x
S: model
S: closed => info "the server may close (RFC 1939 section 4)"
S: timeout => fail
S: any => info as whatever
S: /^-ERR \\[(?i:in-use)\\/?.*\\]/ => pass as locked
S: -ERR => pass as locked  if not capa resp-codes
S: +OK => "note first" as shared non-strict if capa UIDL
S: -ERR => fail "RESP-CODES is advertised, so a refusal \\"must\\" say [IN-USE] / code"
"""
    )
    alts = steps[2].alternatives  # type: ignore[attr-defined]
    n = FIRST + 2
    assert alts == (
        Alternative("model", at(n)),
        Alternative(
            "closed", at(n + 1), grade="info", note="the server may close (RFC 1939 section 4)"
        ),
        Alternative("timeout", at(n + 2), grade="fail"),
        Alternative("any", at(n + 3), grade="info", label="whatever"),
        Alternative("regex", at(n + 4), pattern="^-ERR \\[(?i:in-use)\\/?.*\\]", label="locked"),
        Alternative(
            "status",
            at(n + 5),
            status="-ERR",
            label="locked",
            condition=Condition("capa", "RESP-CODES", negate=True),
        ),
        Alternative(
            "status",
            at(n + 6),
            status="+OK",
            grade="non-strict",
            label="shared",
            condition=Condition("capa", "UIDL"),
            note="note first",
        ),
        Alternative(
            "status",
            at(n + 7),
            status="-ERR",
            grade="fail",
            note='RESP-CODES is advertised, so a refusal "must" say [IN-USE] / code',
        ),
    )


def test_regex_may_contain_slashes_and_spaces() -> None:
    steps = parse('login A\nC: STAT\nS: /^\\+OK [0-9]+ [0-9]+( .*)?$/ => info "a/b"\n')
    (alt,) = steps[2].alternatives  # type: ignore[attr-defined]
    assert alt.pattern == "^\\+OK [0-9]+ [0-9]+( .*)?$"
    assert alt.note == "a/b"


def test_expectations_group_across_comments_and_blank_lines() -> None:
    steps = parse(
        """\
login A
C: PASS x
S: -ERR
# RFC 1939 section 4: "the server may close the connection"

S: closed
C: NOOP
S: +OK
"""
    )
    assert [type(s).__name__ for s in steps] == ["Login", "Send", "Expect", "Send", "Expect"]
    assert len(steps[2].alternatives) == 2  # type: ignore[attr-defined]


def test_send_without_expectation_is_allowed() -> None:
    steps = parse("login A\nraw: DELE 1\\r\\n\nreset\n")
    assert [type(s).__name__ for s in steps] == ["Login", "Send", "End"]


def test_when_blocks_nest_and_use_labels() -> None:
    steps = parse(
        """\
login A
C: PASS x
S: -ERR => as refused
when refused
  when not capa UIDL
    C: NOOP
    S: +OK
  end
  when capa top
    check RFC1939-7.TOP-1
  end
end
when not refused
end
"""
    )
    outer = steps[3]
    assert isinstance(outer, When)
    assert outer.where == at(FIRST + 3)
    assert outer.condition == Condition("label", "refused")
    inner_uidl, inner_top = outer.body
    assert inner_uidl == When(
        at(FIRST + 4),
        Condition("capa", "UIDL", negate=True),
        (
            Send(at(FIRST + 5), None, "NOOP", b"", False),
            Expect(at(FIRST + 6), (Alternative("status", at(FIRST + 6), status="+OK"),)),
        ),
    )
    assert inner_top == When(
        at(FIRST + 8), Condition("capa", "TOP"), (Check(at(FIRST + 9), "RFC1939-7.TOP-1"),)
    )
    assert steps[4] == When(at(FIRST + 12), Condition("label", "refused", negate=True), ())


def test_placeholders_are_accepted() -> None:
    header = HEADER.replace("---", "accounts: 2\n---")
    steps = parse(
        "login A\nC: USER {user2}\nC: PASS {password2}\nC: RETR {beyond}\n"
        "S: +OK {size:2} {uid:10}\nraw: USER {user2}\\r\\nXYZZ{spaces:300}\\r\\n\n",
        header,
    )
    assert len(steps) == 6


# --------------------------------------------------------------------- errors

ERRORS = [
    # (text, line, message fragment)
    (HEADER.replace("title:", "titel:"), 2, "unknown header key 'titel'"),
    (HEADER.replace("id: t.one\n", ""), 3, "the header has no 'id'"),
    (HEADER.replace("title: A test scenario\n", ""), 3, "the header has no 'title'"),
    (
        "id: x\ntitle: t\n---\nlogin A\n",
        3,
        "the header has no 'requirements'",
    ),
    (HEADER.replace("t.one", "T_One"), 1, "bad id 'T_One'"),
    (
        HEADER.replace("RFC1939-5.DELE-1", "RFC1939-DELE-1"),
        3,
        "bad requirement ID 'RFC1939-DELE-1'",
    ),
    (HEADER.replace("RFC1939-5.STAT-2", "rfc1939-5.STAT-2"), 3, "bad requirement ID"),
    (HEADER + "login A\ncheck RFC1939-5.dele-2\n", FIRST + 1, "bad requirement ID"),
    (HEADER + "login A\nfrobnicate\n", FIRST + 1, "unknown step 'frobnicate'"),
    (HEADER + "login A\nS: +OK\n", FIRST + 1, "'S:' must follow a 'C:', 'raw:', 'read' or 'open'"),
    (HEADER + "login A\nC: NOOP\ncheck RFC1939-5.DELE-1\nS: +OK\n", FIRST + 3, "'S:' must follow"),
    (HEADER + "login A\nC: NOOP\nS: +OK => great\n", FIRST + 2, "bad grade 'great'"),
    (HEADER + "login A\nC: NOOP\nS: +OK => pass fail\n", FIRST + 2, "two grades"),
    (HEADER + "login A\nC: NOOP\nS: +ok\n", FIRST + 2, "unknown expectation '+ok'"),
    (HEADER + "login A\nC: NOOP\nS: model as x\n", FIRST + 2, "unexpected 'as' after 'model'"),
    (HEADER + "login A\nC: NOOP\nS: -ERR as x\n", FIRST + 2, "modifiers follow '=>'"),
    (HEADER + 'login A\nC: NOOP\nS: +OK "note"\n', FIRST + 2, "modifiers follow '=>'"),
    (HEADER + "login A\nC: NOOP\nS: /(unclosed/\n", FIRST + 2, "bad regex"),
    (HEADER + "login A\nC: NOOP\nS: /abc\n", FIRST + 2, "needs its closing '/'"),
    (HEADER + "login A\nC: NOOP\nS: -ERR [IN-USE\n", FIRST + 2, "bad response code"),
    (HEADER + 'login A\nC: NOOP\nS: +OK => "open\n', FIRST + 2, "unterminated note"),
    (HEADER + "login A\nC: NOOP\nS: +OK => if capa\n", FIRST + 2, "expected 'if capa NAME'"),
    (HEADER + "login A\nC: NOOP\nS: +OK =>\n", FIRST + 2, "'=>' needs"),
    (HEADER + "login A\nwhen capa UIDL\nC: NOOP\n\nC: STAT\n", FIRST + 1, "'when' without"),
    (HEADER + "login A\nwhen capa UIDL\nwhen capa TOP\nend\n", FIRST + 1, "'when' without"),
    (HEADER + "login A\nend\n", FIRST + 1, "'end' without a 'when'"),
    (HEADER + "login A\nwhen nolabel\nend\n", FIRST + 1, "no earlier expectation sets it"),
    (
        HEADER + "login A\nC: NOOP\nS: +OK\nwhen later\nend\nC: X\nS: -ERR => as later\n",
        FIRST + 3,
        "'when later'",
    ),
    (HEADER + "login A\neventually 5 s: open B\n", FIRST + 1, "can only retry a login"),
    (HEADER + "login A\neventually 5 s login B\n", FIRST + 1, "expected 'eventually N s: login"),
    (HEADER + "login A\nsleep 5\n", FIRST + 1, "bad duration '5'"),
    (HEADER + "login A\nsleep -1 s\n", FIRST + 1, "bad duration '-1 s'"),
    (HEADER + "login A\nsleep 0 ms\n", FIRST + 1, "must be more than zero"),
    (HEADER + "login A\nexpect closed within 3 minutes\n", FIRST + 1, "bad duration"),
    (HEADER + "login A\nraw: NOOP\\q\n", FIRST + 1, "unknown escape '\\q'"),
    (HEADER + "login A\nraw: NOOP\\x4\n", FIRST + 1, "bad escape '\\x4'"),
    (HEADER + "login A\nraw: NOOP\\xZZ\n", FIRST + 1, "bad escape '\\xZZ'"),
    (HEADER + "login A\nraw: NOOP\\\n", FIRST + 1, "escapes nothing"),
    (HEADER.replace("---", "mailbox: full\n---"), 4, "bad mailbox 'full'"),
    (HEADER.replace("---", "accounts: 3\n---"), 4, "bad accounts '3'"),
    (HEADER.replace("---", "destructive: true\n---"), 4, "bad destructive 'true'"),
    (HEADER.replace("---", "timeout: soon\n---"), 4, "bad timeout 'soon'"),
    (HEADER.replace("---", "timeout: 0\n---"), 4, "must be a positive number"),
    (HEADER + "login A as 2\n", FIRST, "login as account 2, but the scenario leases 1"),
    (
        HEADER.replace("---", "accounts: 2\n---") + "login A as 3\n",
        FIRST + 1,
        "login as account 3, but the scenario leases 2",
    ),
    (
        HEADER + "login A\nunchanged since nothing\n",
        FIRST + 1,
        "no earlier 'snapshot ... as nothing'",
    ),
    (HEADER + "login A\nquit B\n", FIRST + 1, "session 'B' is used before any"),
    (HEADER + "C: NOOP\n", FIRST, "no session is open yet"),
    (HEADER + "open 1A\n", FIRST, "bad session name '1A'"),
    (HEADER + "login A\ndrop A mid-air\n", FIRST + 1, "expected 'drop [NAME] mid-command'"),
    (HEADER + "login A\ndrop mid-retr 0\n", FIRST + 1, "bad message number '0'"),
    (HEADER + "login A\nC: USER {nobody}\n", FIRST + 1, "unknown placeholder {nobody}"),
    (HEADER + "login A\nC: USER {user2}\n", FIRST + 1, "{user2} needs 'accounts: 2'"),
    (HEADER + "login A\nC:NOOP\n", FIRST + 1, "expected a space after 'C:'"),
    (HEADER + "login A\nraw:\n", FIRST + 1, "'raw:' sends nothing"),
    (HEADER + "login A\nraw: USER {nobody}\\r\\n\n", FIRST + 1, "unknown placeholder {nobody}"),
    (HEADER + "login A\nC: X {spaces:0}\n", FIRST + 1, "unknown placeholder {spaces:0}"),
    (
        HEADER.replace("---", "mailbox: none\n---") + "open A\nC: NOOP\nS: model\n",
        FIRST + 3,
        "'S: model' needs known content",
    ),
    ("id: x\ntitle: t\nrequirements: RFC1939-3-2\n", 3, "no '---' line ends the header"),
    ("id: x\nid: y\n---\n", 2, "header key 'id' given twice (first at line 1)"),
    ("  continued\nid: x\n---\n", 1, "indented line without a header key"),
    ("id x\n---\n", 1, "expected 'key: value'"),
    (
        HEADER.replace("requirements: RFC1939-5.DELE-1, RFC1939-5.STAT-2", "requirements: ,"),
        3,
        "lists no requirement",
    ),
    (HEADER.replace("RFC1939-5.STAT-2", "RFC1939-5.DELE-1"), 3, "listed twice"),
]


@pytest.mark.parametrize(("text", "line", "fragment"), ERRORS)
def test_errors_carry_file_line_and_message(text: str, line: int, fragment: str) -> None:
    error = error_of(text)
    assert (error.file, error.line) == (F, line), str(error)
    assert fragment in error.message, str(error)
    assert str(error) == f"{F}:{line}: {error.message}"


def test_error_is_picklable() -> None:
    error = error_of(HEADER + "bogus\n")
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error) == f"{F}:{FIRST}: unknown step 'bogus'"


# --------------------------------------------------------------------- files


def test_load_scenario_reads_a_file_and_names_it(tmp_path: Path) -> None:
    path = tmp_path / "a.pop3"
    path.write_text(HEADER + "login A\n", encoding="utf-8")
    assert load_scenario(path).file == str(path)
    s = load_scenario(path, display_name="suites/a.pop3")
    assert s.file == "suites/a.pop3"
    assert s.steps[0].where == Where("suites/a.pop3", FIRST)


def test_non_utf8_file_is_an_error_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.pop3"
    path.write_bytes(HEADER.encode() + b"login A\nC: USER caf\xe9\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, display_name="latin.pop3")
    assert info.value.line == FIRST + 1
    assert str(info.value).startswith(f"latin.pop3:{FIRST + 1}: not UTF-8: byte 0xe9")


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "gone.pop3")
    assert "cannot read the file" in info.value.message


def test_unexpected_failure_becomes_a_scenario_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from conformance.scenario import loader

    def explode(self: object, *args: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(loader._Parser, "parse_condition", explode)
    error = error_of(HEADER + "login A\nwhen capa UIDL\nend\n")
    assert error.message == "internal loader error: ZeroDivisionError: boom"


def test_discover_finds_pop3_files_recursively_sorted(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "deep").mkdir(parents=True)
    for name in ("b/2.pop3", "a/deep/1.pop3", "a/0.pop3", "a/notes.txt"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    single = tmp_path / "b" / "2.pop3"
    found = discover([tmp_path / "b", tmp_path / "a", single])
    rel = [p.relative_to(tmp_path).as_posix() for p in found]
    assert rel == ["a/0.pop3", "a/deep/1.pop3", "b/2.pop3"]
    # A file path is taken as is, even one that does not exist (load_all reports it).
    assert discover([tmp_path / "missing.pop3"]) == [tmp_path / "missing.pop3"]


def test_load_all_reports_errors_and_duplicate_ids(tmp_path: Path) -> None:
    (tmp_path / "a.pop3").write_text(HEADER + "login A\n", encoding="utf-8")
    (tmp_path / "b.pop3").write_text("# dup\n" + HEADER + "login A\n", encoding="utf-8")
    (tmp_path / "c.pop3").write_text(HEADER.replace("t.one", "t.two") + "bad\n", encoding="utf-8")
    (tmp_path / "d.pop3").write_text(HEADER.replace("t.one", "t.three"), encoding="utf-8")
    scenarios, errors = load_all([tmp_path])
    assert [s.id for s in scenarios] == ["t.one", "t.three"]
    messages = sorted(str(e) for e in errors)
    assert messages == [
        f"{tmp_path / 'b.pop3'}:2: duplicate id 't.one' (already used at {tmp_path / 'a.pop3'}:1)",
        f"{tmp_path / 'c.pop3'}:{FIRST}: unknown step 'bad'",
    ]


@pytest.mark.parametrize(
    ("tail", "tokens"),
    [
        ('fail as x "a note"', [("fail", False), ("as", False), ("x", False), ("a note", True)]),
        ('"say \\"no\\" \\\\ here"', [('say "no" \\ here', True)]),
        ('"a \\d stays"', [("a \\d stays", True)]),
        ('""info', [("", True), ("info", False)]),
        ("info\u2003as\tx ", [("info", False), ("as", False), ("x", False)]),
        ("   ", []),
    ],
)
def test_the_words_and_notes_after_the_arrow(tail: str, tokens: list[tuple[str, bool]]) -> None:
    from conformance.scenario.expectations import ExpectationGrammar

    assert ExpectationGrammar("", "t.pop3").note_tokens(tail, 1) == tokens


@pytest.mark.parametrize(
    ("tail", "message"),
    [('"open', "unterminated note"), ('"ends in \\', "unterminated note"), ('a"b', "stray")],
)
def test_a_broken_note_is_named(tail: str, message: str) -> None:
    from conformance.scenario.errors import ScenarioError
    from conformance.scenario.expectations import ExpectationGrammar

    with pytest.raises(ScenarioError, match=message):
        ExpectationGrammar("", "t.pop3").note_tokens(tail, 1)
