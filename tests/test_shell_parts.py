"""The shell's parts on their own: masking, placeholders for secrets, completion, history."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from conformance.placeholders import apop_digest, cram_md5_answer
from conformance.pop3 import Answer, Command, State, parse_status_line, split_command
from conformance.scenario.loader import parse_scenario
from conformance.secrets import Secrets
from conformance.shell.credentials import Placeholders, mask_from, masked, shown
from conformance.shell.editor import SecretFreeHistory, ShellCompleter
from conformance.shell.judge import Judgement
from conformance.shell.recorder import Recorder
from conformance.target import Account
from conformance.transcript import REDACTED

ALICE = Account("alice", "s3cret pw")
BOB = Account("bob", "hunter2")
STAMP = "<1.2@host>"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("line", "in_sasl", "start"),
    [
        ("PASS s3cret pw", False, 5),
        ("pass   x", False, 7),
        ("PASS", False, None),
        ("APOP alice 0123", False, 11),
        ("AUTH PLAIN AGFsaWNl", False, 11),
        ("AUTH PLAIN", False, None),
        ("USER alice", False, None),
        ("PASSWORD x", False, None),
        ("anything at all", True, 0),
        (r":raw PASS x\r\n", False, 5),
        (r":raw NOOP\r\napop a b\r\n", False, 5),
        (r":raw NOOP\r\n", False, None),
    ],
)
def test_where_a_typed_line_is_masked(line: str, in_sasl: bool, start: int | None) -> None:
    assert mask_from(line, in_sasl) == start


def test_masked_and_shown_keep_no_secret() -> None:
    assert masked("PASS s3cret pw", False) == "PASS *********"
    assert shown("PASS s3cret pw", False, Secrets([ALICE.password])) == f"PASS {REDACTED}"
    # A password typed where no secret is expected is still scrubbed from the echo.
    assert shown("NOOP s3cret pw", False, Secrets([ALICE.password])) == f"NOOP {REDACTED}"


def test_secrets_become_placeholders() -> None:
    p = Placeholders([ALICE, BOB, Account("carol", "other")])
    values = {"timestamp": STAMP, "challenge": b64("<9.9@host>")}
    assert p.line("USER alice", False, values) == "USER {user}"
    assert p.line("user bob", False, values) == "user {user2}"
    assert p.line("USER carol", False, values) == "USER carol"  # names are not secrets
    assert p.line("PASS s3cret pw", False, values) == "PASS {password}"
    assert p.line("PASS hunter2", False, values) == "PASS {password2}"
    digest = apop_digest(STAMP, BOB.password)
    assert p.line(f"APOP bob {digest}", False, values) == "APOP {user2} {apop:2}"
    plain = b64("\0alice\0s3cret pw")
    assert p.line(f"AUTH PLAIN {plain}", False, values) == "AUTH PLAIN {plain}"
    assert p.line(b64("bob"), True, values) == "{b64user:2}"
    assert p.line(b64(ALICE.password), True, values) == "{b64password}"
    cram = cram_md5_answer(values["challenge"], "alice", ALICE.password)
    assert cram is not None and p.line(cram, True, values) == "{cram}"
    assert p.line("*", True, values) == "*"
    assert p.unknown == 0
    assert "{password2}" in p.used and "{apop:2}" in p.used


def test_a_secret_no_placeholder_computes_is_redacted() -> None:
    p = Placeholders([ALICE])
    assert p.line("PASS s3cret pX", False, {}) == f"PASS {REDACTED}"
    assert p.line("APOP alice 00000000000000000000000000000000", False, {}) == (
        f"APOP {{user}} {REDACTED}"
    )
    assert p.line("c29tZXRoaW5n", True, {}) == REDACTED
    assert p.unknown == 3
    # A known password anywhere else becomes its placeholder.
    assert p.line("NOOP s3cret pw", False, {}) == "NOOP {password}"


def completions(text: str, state: State | None, names: list[str] | None = None) -> list[str]:
    completer = ShellCompleter(lambda: state, lambda: names or [])
    found = completer.get_completions(Document(text), CompleteEvent(completion_requested=True))
    return [c.text for c in found]


def test_completion_offers_the_keywords_of_the_state_first() -> None:
    assert completions("RE", State.TRANSACTION) == ["RETR"]
    assert completions("u", State.TRANSACTION)[0] == "UIDL"  # valid here, before USER
    assert completions("u", State.AUTHORIZATION)[0] == "USER"
    assert completions("", State.AUTHORIZATION_USER)[:2] == ["USER", "PASS"]
    assert completions("PA", State.AUTHORIZATION_SASL) == []  # a SASL response is not a keyword
    assert completions("RETR ", State.TRANSACTION) == []


def test_completion_of_meta_commands_and_their_arguments() -> None:
    assert completions(":h", State.TRANSACTION) == [":half-close", ":help"]
    assert completions(":use ", State.TRANSACTION, ["A", "B"]) == ["A", "B"]
    assert completions(":close B", State.TRANSACTION, ["A", "B"]) == ["B"]
    assert completions(":help re", None) == ["RETR"]
    assert completions(":raw ", None, ["A"]) == []


def test_history_never_keeps_a_line_with_a_secret() -> None:
    state = State.AUTHORIZATION
    history = SecretFreeHistory(lambda: state)
    for line in ("USER alice", "PASS s3cret", "APOP alice 0123", ":raw PASS x\\r\\n"):
        history.append_string(line)
    state = State.AUTHORIZATION_SASL
    history.append_string("AGFsaWNl")
    state = State.TRANSACTION
    history.append_string("STAT")
    assert list(history.get_strings()) == ["USER alice", "STAT"]


def judged(line: str, status: str = "+OK", before: State = State.TRANSACTION) -> Judgement:
    keyword, args = split_command(line)
    response = parse_status_line(f"{status}\r\n".encode())
    return Judgement(Answer(Command(line, keyword, tuple(args)), response, before, before))


def test_the_recorder_writes_a_scenario_that_loads(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "My Session.pop3", Placeholders([ALICE, BOB]), "h:1", None)
    greeting = judged("", before=State.AUTHORIZATION)
    recorder.opened("A", greeting)
    recorder.command("A", "USER bob", False, {}, judged("USER bob", before=State.AUTHORIZATION))
    recorder.command("A", "DELE 1", False, {}, judged("DELE 1"))
    recorder.command("A", "NOOP {1}", False, {}, judged("NOOP {1}", "-ERR"))
    recorder.raw("A", r"PASS hunter2\r\n", False, [judged("PASS hunter2", "-ERR")])
    recorder.opened("B", greeting)
    recorder.ended("B", "half-close")
    recorder.command("A", "QUIT", False, {}, judged("QUIT"))
    path = recorder.write()
    text = path.read_text()
    assert BOB.password not in text
    scenario = parse_scenario(text, str(path))
    assert scenario.id == "shell.my-session"
    assert (scenario.accounts, scenario.destructive, scenario.mailbox) == (2, True, "none")
    body = text.split("---\n", 1)[1]
    # Without a model, each answer is checked by its keyword's requirement in the spec.
    assert body == (
        "check RFC1939-3-2\nopen A\nS: +OK\n"
        "check RFC1939-7.USER-1\nC: USER {user2}\nS: +OK\n"
        "check RFC1939-5.DELE-1\nC: DELE 1\nS: +OK\n"
        "check RFC1939-5.NOOP-1\nraw: NOOP \\x7b1}\\r\\n\nS: -ERR\n"
        "# a ':raw' line that carried a secret was left out here\n"
        "check RFC1939-3-2\nopen B\nS: +OK\nhalf-close B\n"
        "use A\ncheck RFC1939-4.QUIT-1\nquit A\n"
    )
