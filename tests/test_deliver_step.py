"""The deliver step: mail delivered into a mailbox while a scenario runs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.campaign import PassiveCollector, run_leased
from conformance.cli_common import embedded_target
from conformance.mailbox_access import Pop3Access, prepare_target
from conformance.messages import Message
from conformance.provision import (
    DeliveryOptions,
    MaildirProvisioner,
    ProvisionError,
    make_deliverer,
)
from conformance.results import ScenarioResult
from conformance.runner import deliveries
from conformance.scenario.loader import ScenarioError, parse_scenario
from conformance.scenario.steps import Deliver
from conformance.server.embedded import EmbeddedServer
from conformance.target import AccountPool, Target
from tests.mail_system import mail_system, ordinary_messages, target_for

pytestmark = pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")

# The message delivered while session A holds the mailbox survives A's
# UPDATE, which removes only what A marked; and a later session sees it.
ARRIVES_DURING_A_SESSION = """\
id: t.deliver.during
title: mail delivered during a session survives its QUIT
requirements: RFC1939-6.QUIT-1
mailbox: small
destructive: yes
---
login A
C: DELE 1
S: +OK
deliver m01-plain
quit A
login B
C: STAT
S: model
C: LIST
S: model
C: RETR {last}
S: model
"""

ARRIVES_BETWEEN_SESSIONS = """\
id: t.deliver.between
title: mail delivered between two sessions is there for the second
requirements: RFC1939-5.STAT-1
mailbox: small
---
login A
C: STAT
S: model
quit A
deliver A s02-small
login B
C: STAT
S: model
C: RETR {last}
S: model
"""


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as s:
        yield s


def run(text: str, t: Target) -> ScenarioResult:
    scenario = parse_scenario(text, "t.pop3")
    return run_leased(scenario, t, prepare_target(t), AccountPool(t.accounts), PassiveCollector())


def with_provisioner(server: EmbeddedServer, spec: str) -> Target:
    return target_for(server, spec)


def test_the_grammar() -> None:
    head = "id: t.x\ntitle: t\nrequirements: RFC1939-5.STAT-1\n---\nlogin A\n"
    steps = parse_scenario(head + "deliver m01-plain\ndeliver A s03-small\n", "t.pop3").steps
    assert [(s.session, s.message) for s in steps if isinstance(s, Deliver)] == [
        (None, "m01-plain"),
        ("A", "s03-small"),
    ]
    for bad, message in (
        ("deliver nothing-like-it", "no corpus message named 'nothing-like-it'"),
        ("deliver B m01-plain", "session 'B' is used before any 'open B'"),
        ("deliver", r"expected 'deliver \[NAME\] MESSAGE'"),
    ):
        with pytest.raises(ScenarioError, match=message):
            parse_scenario(head + bad + "\n", "t.pop3")


@pytest.mark.parametrize("text", [ARRIVES_DURING_A_SESSION, ARRIVES_BETWEEN_SESSIONS])
def test_the_model_learns_the_delivered_message(server: EmbeddedServer, text: str) -> None:
    result = run(text, embedded_target(server, 10.0))
    assert result.outcome.value == "pass", result.reason
    assert any(c.requirement.startswith("RFC1939-5.RETR") for c in result.checks)


def test_through_lmtp_the_message_is_learned_as_the_server_rewrote_it(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    with mail_system(server, tmp_path) as ms:
        t = with_provisioner(server, f"lmtp:127.0.0.1:{ms.lmtp_port}")
        for text in (ARRIVES_DURING_A_SESSION, ARRIVES_BETWEEN_SESSIONS):
            result = run(text, t)
            assert result.outcome.value == "pass", result.reason
        assert ("alice", "LMTP") in ms.store.delivered


def test_without_a_way_to_deliver_the_scenario_says_so(server: EmbeddedServer) -> None:
    for spec, reason in (
        ("none", "which the none provisioner cannot"),
        ("existing", "which the existing provisioner cannot (existing needs a deliverer"),
    ):
        result = run(ARRIVES_BETWEEN_SESSIONS, with_provisioner(server, spec))
        assert result.outcome.value == "unsupported"
        assert reason in result.reason


def test_on_existing_mail_with_trace_fields_the_delivered_message_is_learned(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    # The mail already there came through the mail system too: its trace
    # fields are no news, and the message delivered in the scenario carries
    # its own.  It is learned as the server stored it, once read back.
    with mail_system(server, tmp_path) as ms:
        spec = f"lmtp:127.0.0.1:{ms.lmtp_port}"
        make_deliverer(spec, DeliveryOptions()).deliver("alice", ordinary_messages(4))
        t = with_provisioner(server, f"existing:{spec}")
        result = run(ARRIVES_DURING_A_SESSION, t)
        assert result.outcome.value == "pass", result.reason


def test_on_existing_mail_the_delivered_message_is_removed_afterwards(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    few = ordinary_messages(4)
    MaildirProvisioner(server.maildir_template).seed("alice", few)
    with mail_system(server, tmp_path) as ms:
        t = with_provisioner(server, f"existing:lmtp:127.0.0.1:{ms.lmtp_port}")
        result = run(ARRIVES_DURING_A_SESSION, t)
        assert result.outcome.value == "pass", result.reason
        # Message 1 (DELE'd) is put back, s... and m01-plain (delivered) removed.
        reading = Pop3Access(t, prepare_target(t)).read("alice")
    assert len(reading.contents) == len(few)
    assert not any(b"m01" in c for c in reading.contents)
    assert any(c.endswith(few[0].data) and c != few[0].data for c in reading.contents)


# -- mail that arrives while a session holds the mailbox ----------------------------------

# The suite's own: delivered while A is in TRANSACTION, with and without a DELE.
DELIVERY = Path(__file__).resolve().parents[1] / "suites" / "core" / "deletion"
SURVIVES = DELIVERY / "new-mail-survives-quit.pop3"
SURVIVES_DELE = DELIVERY / "new-mail-survives-dele-quit.pop3"


def test_mail_lost_at_quit_is_a_fail_against_quit_2_and_judged_once() -> None:
    with EmbeddedServer(extra_args=("--defect", "quit-loses-new-mail")) as lossy:
        t = embedded_target(lossy, 5.0)
        for path in (SURVIVES, SURVIVES_DELE):
            result = run(path.read_text(), t)
            assert result.outcome.value == "fail", result.reason
            [lost] = [c for c in result.checks if c.outcome.value == "fail"]
            assert lost.requirement == "RFC1939-6.QUIT-2"
            assert "m01-plain, delivered while session A was in TRANSACTION" in lost.expected
            assert "gone" in lost.actual and "STAT shows" in lost.actual
            # The rest is judged on what is there: STAT and RETR {last} pass.
            assert all(c.outcome.value == "pass" for c in result.checks if c is not lost)


def test_more_mail_than_expected_after_the_quit_is_the_scenario_s_to_judge() -> None:
    # A QUIT that removed nothing: the new message is there, and so is message 1.
    with EmbeddedServer(extra_args=("--defect", "quit-keeps-deleted")) as keeping:
        result = run(SURVIVES_DELE.read_text(), embedded_target(keeping, 5.0))
    assert result.outcome.value == "fail", result.reason
    assert not any(c.outcome.value == "error" for c in result.checks)


def test_the_clean_server_keeps_it(server: EmbeddedServer) -> None:
    for path in (SURVIVES, SURVIVES_DELE):
        result = run(path.read_text(), embedded_target(server, 10.0))
        assert result.outcome.value == "pass", result.reason


class SlowStore(MaildirProvisioner):
    """A store that keeps a delivery waiting (as an mbox locked by the session would)."""

    def __init__(self, template: str, seconds: float, fail: bool = False) -> None:
        super().__init__(template)
        self.seconds = seconds
        self.fail = fail
        self.ended: list[float] = []

    def deliver(self, user: str, message: Message) -> None:
        time.sleep(self.seconds)
        if self.fail:
            raise ProvisionError(f"the store refused {message.name}")
        super().deliver(user, message)
        self.ended.append(time.monotonic())


def with_slow_store(
    server: EmbeddedServer, seconds: float, fail: bool = False
) -> tuple[ScenarioResult, SlowStore, dict[str, float]]:
    """SURVIVES with a store that keeps each delivery waiting; the times A sent its commands."""
    t = embedded_target(server, 10.0)
    slow = SlowStore(server.maildir_template, seconds, fail)
    t.provisioner = slow
    result = run(SURVIVES.read_text(), t)
    sent = {e.text: e.t_ms for e in result.transcript if e.session == "A" and e.direction == "C"}
    return result, slow, sent


def test_a_delivery_the_store_keeps_waiting_runs_while_the_session_goes_on(
    server: EmbeddedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deliveries, "BLOCKED_S", 0.3)
    result, slow, sent = with_slow_store(server, 1.5)
    assert result.outcome.value == "pass", result.reason
    # A went on to QUIT while the store kept the delivery waiting; the message
    # came in after the QUIT (so no QUIT could have lost it) and B sees it.
    assert sent["QUIT"] - sent["RETR 1"] < 1000
    assert len(slow.ended) == 1
    assert any("goes on in the background" in e.text for e in result.transcript)


def test_a_delivery_into_a_held_mailbox_is_stored_before_the_scenario_goes_on(
    server: EmbeddedServer,
) -> None:
    result, _, sent = with_slow_store(server, 0.5)
    assert result.outcome.value == "pass", result.reason
    assert sent["QUIT"] - sent["RETR 1"] >= 500


def test_a_delivery_that_fails_in_the_background_is_an_error_naming_it(
    server: EmbeddedServer,
) -> None:
    result, _, _ = with_slow_store(server, 0.2, fail=True)
    assert result.outcome.value == "error"
    assert "delivering m01-plain to account" in result.reason
    assert "the store refused m01-plain" in result.reason
