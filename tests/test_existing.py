"""--provision existing against the embedded server: judging mailboxes as they are."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.campaign import RunOptions, run_campaign, select
from conformance.cli_common import embedded_target
from conformance.drift import same_but_server_fields, seeded_names
from conformance.mailbox_access import Pop3Access, prepare_target
from conformance.messages import Message
from conformance.provision import ExistingMail, MaildirProvisioner, Reading
from conformance.results import RunResult
from conformance.scenario.loader import load_all
from conformance.scenario.steps import Scenario
from conformance.server.embedded import EmbeddedServer
from conformance.target import Target
from tests.mail_system import mail_system, ordinary_messages, target_for

pytestmark = pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")

SUITES = Path(__file__).resolve().parents[1] / "suites"
FEW = 5  # "a few ordinary messages"


def every_scenario() -> list[Scenario]:
    loaded, errors = load_all([SUITES])
    assert not errors
    return select(loaded, [])


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(tls=True) as s:
        yield s


@pytest.fixture(scope="module")
def maildir_run(server: EmbeddedServer) -> RunResult:
    return run_campaign(every_scenario(), embedded_target(server, 10.0), RunOptions(jobs=4))


def existing(server: EmbeddedServer, spec: str = "existing", *, disposable: bool = False) -> Target:
    return target_for(server, spec, disposable=disposable)


def fill(server: EmbeddedServer, messages: list[Message]) -> MaildirProvisioner:
    store = MaildirProvisioner(server.maildir_template)
    for account in server.accounts:
        store.seed(account.user, messages)
    return store


def readings(t: Target) -> dict[str, Reading]:
    access = Pop3Access(t, prepare_target(t))
    return {a.user: access.read(a.user) for a in t.accounts}


def judged(run: RunResult) -> set[str]:
    return {s.id for s in run.scenarios if s.outcome.value != "unsupported"}


def test_a_few_ordinary_messages_judge_three_quarters_without_a_fail(
    server: EmbeddedServer, maildir_run: RunResult
) -> None:
    fill(server, ordinary_messages(FEW))
    t = existing(server)
    before = readings(t)
    run = run_campaign(every_scenario(), t, RunOptions(jobs=4))
    assert len(judged(run)) >= 0.75 * len(judged(maildir_run))
    bad = [(s.id, s.reason) for s in run.scenarios if s.outcome.value in ("fail", "error")]
    assert bad == []
    # Whatever it judged, it judged as the file-system run did.
    base = {s.id: s.outcome for s in maildir_run.scenarios}
    assert all(s.outcome == base[s.id] for s in run.scenarios if s.id in judged(run))
    # Read-only: the mailboxes are what they were, message for message.
    assert readings(t) == before
    assert run.target["provision"]["mailboxes"] == {a.user: FEW for a in t.accounts}
    reasons = {s.id: s.reason for s in run.scenarios}
    assert (
        "has no deliverer to put the mailbox back" in reasons["core.deletion.quit-removes-marked"]
    )
    assert reasons["core.basic.list-each"].startswith("names message 6, and account ")
    assert "(the standard corpus's m02-dots)" in reasons["ext.top.dot-lines"]
    assert reasons["core.basic.stat-empty-maildrop"].startswith("needs an empty mailbox")


def test_an_empty_mailbox_is_named_as_what_limits_the_run(server: EmbeddedServer) -> None:
    fill(server, [])
    run = run_campaign(every_scenario(), existing(server), RunOptions(jobs=4))
    outcome = {s.id: (s.outcome.value, s.reason) for s in run.scenarios}
    assert outcome["core.basic.noop"][0] == "unsupported"
    assert outcome["core.basic.noop"][1].startswith("needs known messages, and the mailbox of")
    assert outcome["core.basic.noop"][1].endswith("is empty")
    assert outcome["core.basic.stat-empty-maildrop"][0] == "pass"
    assert not [s for s in run.scenarios if s.outcome.value in ("fail", "error")]


def test_with_a_deliverer_destructive_scenarios_run_and_the_mail_is_put_back(
    server: EmbeddedServer, maildir_run: RunResult, tmp_path: Path
) -> None:
    originals = ordinary_messages(FEW)
    fill(server, originals)
    with mail_system(server, tmp_path) as ms:
        t = existing(server, f"existing:lmtp:127.0.0.1:{ms.lmtp_port}", disposable=True)
        run = run_campaign(every_scenario(), t, RunOptions(jobs=4))
        after = readings(t)
    base = {s.id: s.outcome for s in maildir_run.scenarios}
    destructive = {s.id for s in every_scenario() if s.destructive}
    assert destructive & judged(run)
    assert all(s.outcome == base[s.id] for s in run.scenarios if s.id in judged(run))
    # Every mailbox holds its messages again: put back through LMTP, they
    # carry its trace fields and come last, but nothing else changed.
    names = seeded_names(m.data for m in originals)
    for reading in after.values():
        assert len(reading.contents) == FEW
        for original in originals:
            assert any(same_but_server_fields(original.data, c, names) for c in reading.contents)


def test_a_mailbox_that_changed_between_scenarios_is_learned_again(
    server: EmbeddedServer,
) -> None:
    store = fill(server, ordinary_messages(3))
    t = existing(server)
    [stat] = select(every_scenario(), ["core.basic.stat-format"])
    assert run_campaign([stat], t, RunOptions()).scenarios[0].outcome.value == "pass"
    provisioner = t.provisioner
    assert isinstance(provisioner, ExistingMail)
    assert len(provisioner.learned("alice") or []) == 3
    store.deliver("alice", ordinary_messages(4)[-1])  # new mail arrives meanwhile
    assert [m.data for m in provisioner.current("alice")] == [m.data for m in ordinary_messages(4)]
    assert len(provisioner.learned("alice") or []) == 4
