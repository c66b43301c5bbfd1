"""Calibration: content is judged against what the server returned, not the seed file.

The reference server returns its maildir files as they are, so rewriting the
files right after seeding stands in for a server that rewrites stored mail
(Cyrus adding headers, mbox servers quoting "From " lines).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from conformance.calibration import CalibrationError, calibrate
from conformance.campaign import RunOptions, default_suite_dirs, run_campaign, select
from conformance.cli import EXIT_FAIL, EXIT_OK, load_scenarios
from conformance.messages import Message, corpus
from conformance.model import Maildrop
from conformance.probe import probe
from conformance.provision import MaildirProvisioner, Reading, make_provisioner
from conformance.server.embedded import EmbeddedServer
from conformance.target import Account, Target
from conformance.transcript import Transcript

ADDED = b"X-Added-By-Server: yes\r\n"


class Rewriting(MaildirProvisioner):
    """A maildir provisioner whose 'server' adds a header to every stored message."""

    def seed(self, user: str, messages: Sequence[Message]) -> None:
        super().seed(user, messages)
        for file in (Path(self.template.format(user=user)) / "new").iterdir():
            file.write_bytes(ADDED + file.read_bytes())


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as s:
        yield s


def _target(server: EmbeddedServer, *, calibrate_on: bool) -> Target:
    return Target(
        host=server.host,
        port=server.port,
        accounts=[Account(a.user, a.password, True, a.apop) for a in server.accounts],
        provisioner=Rewriting(server.maildir_template),
        calibrate=calibrate_on,
    )


def test_calibrate_learns_the_servers_version(server: EmbeddedServer) -> None:
    target = _target(server, calibrate_on=True)
    account = target.accounts[0]
    messages = corpus("small")
    target.provisioner.seed(account.user, messages)
    maildrop = Maildrop(messages)
    profile = probe(target.host, target.port, 5.0, 5.0)
    assert calibrate(target, account, maildrop, profile, Transcript()) == 2
    assert all(m.data.startswith(ADDED) for m in maildrop.messages)
    assert [m.data[len(ADDED) :] for m in maildrop.messages] == [m.data for m in messages]


def test_calibrate_takes_two_passes_when_the_server_returns_the_seed(
    server: EmbeddedServer,
) -> None:
    target = _target(server, calibrate_on=True)
    target.provisioner = make_provisioner(f"maildir:{server.maildir_template}")
    account = target.accounts[0]
    messages = corpus("small")
    target.provisioner.seed(account.user, messages)
    maildrop = Maildrop(messages)
    profile = probe(target.host, target.port, 5.0, 5.0)
    # Two, not one: a server may rewrite only when the first session ends.
    assert calibrate(target, account, maildrop, profile, Transcript()) == 2


def test_calibrate_refuses_a_mailbox_that_does_not_match_the_seed(server: EmbeddedServer) -> None:
    target = _target(server, calibrate_on=True)
    account = target.accounts[0]
    target.provisioner.seed(account.user, corpus("small"))
    maildrop = Maildrop(corpus("standard"))  # the model expects more messages
    profile = probe(target.host, target.port, 5.0, 5.0)
    with pytest.raises(CalibrationError, match="STAT"):
        calibrate(target, account, maildrop, profile, Transcript())


def _run(server: EmbeddedServer, calibrate_flag: bool) -> tuple[int, dict[str, Any]]:
    # A profile file cannot name an in-process provisioner, so the run goes
    # through the library with the same pieces the CLI uses.
    scenarios = select(
        load_scenarios(default_suite_dirs()), ["core.basic.retr-*", "core.basic.list-*"]
    )
    assert scenarios
    run = run_campaign(scenarios, _target(server, calibrate_on=calibrate_flag), RunOptions())
    return (EXIT_FAIL if run.failed() else EXIT_OK), run.to_dict()


def test_without_calibration_a_rewriting_server_fails_content_checks(
    server: EmbeddedServer,
) -> None:
    code, _ = _run(server, calibrate_flag=False)
    assert code == EXIT_FAIL


def test_with_calibration_the_same_server_passes(server: EmbeddedServer) -> None:
    code, doc = _run(server, calibrate_flag=True)
    assert code == EXIT_OK, [s["id"] for s in doc["scenarios"] if s["outcome"] != "pass"]


def test_a_message_built_anew_for_each_session_does_not_stop_the_scenario(
    monkeypatch: pytest.MonkeyPatch, server: EmbeddedServer
) -> None:
    import itertools

    from conformance import calibration

    counter = itertools.count()
    monkeypatch.setattr(
        calibration,
        "_read_all",
        lambda *args: Reading([f"boundary {next(counter)}\r\n".encode()], None),
    )
    target = _target(server, calibrate_on=True)
    maildrop = Maildrop(corpus("small")[:1])
    transcript = Transcript()
    profile = probe(target.host, target.port, 5.0, 5.0)
    assert calibrate(target, target.accounts[0], maildrop, profile, transcript) == 4
    assert maildrop.messages[0].data == b"boundary 3\r\n"
    assert any("differ in each" in e.text for e in transcript.entries)


# A server that marks a message read inside the session (a Status field added
# at RETR, as mbox servers do when they rewrite): calibration must not learn it.
WITHIN_ONE_SESSION = """\
id: t.calibrate.within
title: a message changes inside one session
requirements: RFC1939-5.RETR-1
mailbox: small
---
login A
C: LIST 1
S: model
C: RETR 1
S: model
C: RETR 1
S: model
C: LIST 1
S: model
"""

SNAPSHOT_WITHIN = """\
id: t.calibrate.snapshot-within
title: a snapshot taken twice in one session
requirements: RFC1939-5.RETR-1
mailbox: small
---
login A
snapshot A as before
unchanged A since before
"""


def test_a_change_inside_one_session_is_never_learned() -> None:
    from conformance.campaign import PassiveCollector, run_leased
    from conformance.mailbox_access import prepare_target
    from conformance.scenario.loader import parse_scenario
    from conformance.target import AccountPool

    with EmbeddedServer(extra_args=("--defect", "status-field-after-retr")) as marking:
        t = _target(marking, calibrate_on=True)
        t.provisioner = make_provisioner(f"maildir:{marking.maildir_template}")
        profile = prepare_target(t)

        def run(text: str) -> list[tuple[str, str, str]]:
            scenario = parse_scenario(text, "t.pop3")
            result = run_leased(scenario, t, profile, AccountPool(t.accounts), PassiveCollector())
            return [(c.outcome.value, c.requirement, c.actual) for c in result.checks]

        checks = run(WITHIN_ONE_SESSION)
        assert [c[:2] for c in checks] == [
            ("pass", "RFC1939-5.LIST-1"),
            ("pass", "RFC1939-5.RETR-1"),
            ("fail", "RFC1939-5.RETR-1"),
            ("fail", "RFC1939-5.LIST-5"),
        ]
        assert "header fields added within the session: status" in checks[2][2]
        unchanged = run(SNAPSHOT_WITHIN)[-1]
        assert unchanged[0] == "fail" and "differ within one session" in unchanged[2]
