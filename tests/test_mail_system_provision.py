"""lmtp:, smtp: and imap: provisioning against the embedded server, through a small mail system.

Every delivery reaches the server's maildir with trace fields in front of it
(tests/mail_system.py), so these runs also show that content is judged
against what the server returns, never against what was sent.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from conformance.campaign import PassiveCollector, RunOptions, run_campaign, run_leased, select
from conformance.cli import EXIT_UNREACHABLE, EXIT_USAGE, main
from conformance.cli_common import embedded_target
from conformance.lab.ports import free_port
from conformance.mailbox_access import Pop3Access, prepare_target
from conformance.messages import corpus
from conformance.probe import ServerProfile
from conformance.provision import ProvisionError
from conformance.results import RunResult, ScenarioResult
from conformance.scenario.loader import load_all
from conformance.scenario.steps import Scenario
from conformance.server.embedded import EmbeddedServer
from conformance.target import AccountPool, Target, secrets_of
from tests.mail_system import MailSystem, mail_system, target_for, trace_fields

pytestmark = pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")

SUITES = Path(__file__).resolve().parents[1] / "suites"
# A part of the suite for the ways in that are not run whole: seeding,
# deletion, unique-ids and content, where a wrong provisioner would show.
PART = ["core.basic.*", "core.deletion.*", "ext.uidl.*", "ext.top.*"]


def scenarios(patterns: list[str]) -> list[Scenario]:
    loaded, errors = load_all([SUITES])
    assert not errors
    return select(loaded, patterns)


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(tls=True) as s:
        yield s


@pytest.fixture(scope="module")
def system(
    server: EmbeddedServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MailSystem]:
    with mail_system(server, tmp_path_factory.mktemp("mail")) as s:
        yield s


@pytest.fixture(scope="module")
def maildir_run(server: EmbeddedServer) -> RunResult:
    """The same server judged with a file-system provisioner: what every way in must match."""
    return run_campaign(scenarios([]), embedded_target(server, 10.0), RunOptions(jobs=4))


target = target_for


def ways(system: MailSystem) -> dict[str, str]:
    return {
        "lmtp": f"lmtp:127.0.0.1:{system.lmtp_port}",
        "lmtp-socket": f"lmtp:{system.socket_path}",
        "smtp": f"smtp:127.0.0.1:{system.smtp_port}",
        "imap": f"imap:127.0.0.1:{system.imap.port}",
    }


def outcomes(run: RunResult) -> dict[str, str]:
    return {s.id: s.outcome.value for s in run.scenarios}


def test_lmtp_delivers_in_order_and_the_model_holds_what_the_server_returns(
    server: EmbeddedServer, system: MailSystem
) -> None:
    t = target(server, ways(system)["lmtp"])
    assert t.calibrate  # implied: the mail went through the server's delivery
    profile = prepare_target(t)
    messages = corpus("standard")
    t.provisioner.seed("alice", messages)
    reading = Pop3Access(t, profile).read("alice")
    assert reading.contents == [trace_fields("alice", "LMTP") + m.data for m in messages]
    t.provisioner.deliver("alice", corpus("small")[0])
    assert Pop3Access(t, profile).count("alice") == len(messages) + 1


def test_the_whole_suite_through_lmtp_judges_like_maildir(
    server: EmbeddedServer, system: MailSystem, maildir_run: RunResult
) -> None:
    run = run_campaign(scenarios([]), target(server, ways(system)["lmtp"]), RunOptions(jobs=4))
    assert outcomes(run) == outcomes(maildir_run)
    assert run.target["calibrate"] is True
    assert run.target["provision"]["deliverer"] == ways(system)["lmtp"]


@pytest.mark.parametrize("way", ["lmtp-socket", "smtp", "imap"])
def test_every_way_in_judges_like_maildir(
    server: EmbeddedServer, system: MailSystem, maildir_run: RunResult, way: str
) -> None:
    delivery = {"auth_user": "relay", "auth_password": "relay-secret"} if way == "smtp" else {}
    run = run_campaign(
        scenarios(PART), target(server, ways(system)[way], **delivery), RunOptions(jobs=4)
    )
    expected = outcomes(maildir_run)
    assert len(run.scenarios) > 40
    assert outcomes(run) == {k: expected[k] for k in outcomes(run)}


def test_clearing_goes_through_pop3_or_imap_expunge(
    server: EmbeddedServer, system: MailSystem
) -> None:
    for way in ("lmtp", "imap"):
        t = target(server, ways(system)[way])
        profile = prepare_target(t)
        t.provisioner.seed("bob", corpus("small"))
        assert system.store.count("bob") == 3
        expunged = system.imap.expunged
        t.provisioner.clear("bob")
        assert Pop3Access(t, profile).count("bob") == 0
        # Through LMTP only POP3 can remove; IMAP clears with its own EXPUNGE.
        assert system.imap.expunged == expunged + (way == "imap")


def test_without_disposable_accounts_content_scenarios_say_why(
    server: EmbeddedServer, system: MailSystem
) -> None:
    t = target(server, ways(system)["lmtp"], disposable=False)
    t.provisioner.prepare(Pop3Access(t, prepare_target(t)))
    before = system.store.count("alice")
    run = run_campaign(scenarios(["core.basic.*"]), t, RunOptions())
    judged = {s.id: s for s in run.scenarios}
    noop = judged["core.basic.noop"]
    assert noop.outcome.value == "unsupported"
    assert "the lmtp provisioner clears a mailbox before it seeds it" in noop.reason
    assert "not declared disposable (--disposable alice)" in noop.reason
    # Scenarios that need no content still run.
    assert any(s.outcome.value == "pass" for s in run.scenarios)
    assert system.store.count("alice") == before


def test_a_deliverer_that_cannot_be_reached_is_exit_3_before_any_scenario(
    server: EmbeddedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_cli(server, tmp_path, "--provision", f"lmtp:127.0.0.1:{free_port()}")
    assert code == EXIT_UNREACHABLE
    err = capsys.readouterr().err
    assert "deliverer lmtp:127.0.0.1:" in err and "unreachable" in err
    # No scenario ran; the reports say why (a CI job publishes them).
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert results["scenarios"] == []
    assert any("unreachable" in note for note in results["notes"])


def test_a_rejected_recipient_names_the_account(
    server: EmbeddedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with mail_system(server, tmp_path, refuse=lambda user: user == "bob") as refusing:
        code = run_cli(server, tmp_path, "--provision", f"lmtp:127.0.0.1:{refusing.lmtp_port}")
    assert code == EXIT_USAGE
    assert "rejected recipient <bob> of account 'bob': 550" in capsys.readouterr().err


def test_a_recipient_rejected_during_the_run_is_an_error_naming_the_account(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    refusing = {"alice": False}
    with mail_system(server, tmp_path, refuse=lambda user: refusing.get(user, False)) as ms:
        t = target(server, f"lmtp:127.0.0.1:{ms.lmtp_port}")
        profile = prepare_target(t)
        refusing["alice"] = True
        result = run_one(t, profile, "core.basic.noop")
    assert result.outcome.value == "error"
    assert "rejected recipient <alice> of account 'alice'" in result.reason


def test_a_message_that_never_shows_up_is_an_error_naming_account_and_message(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    with mail_system(server, tmp_path, lose=lambda user: user == "alice") as ms:
        t = target(server, f"lmtp:127.0.0.1:{ms.lmtp_port}", wait=1.0)
        result = run_one(t, prepare_target(t), "core.basic.small-mailbox")
    assert result.outcome.value == "error"
    assert (
        "account 'alice': s01-small, s02-small, s03-small delivered through lmtp:" in result.reason
    )
    assert "did not show up in POP3 within 1 s" in result.reason


def _tls(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context for 127.0.0.1, and the file of the CA that signed it."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return context, ca_file


def test_imap_over_starttls_delivers_and_clears(server: EmbeddedServer, tmp_path: Path) -> None:
    context, ca_file = _tls(tmp_path)
    with mail_system(server, tmp_path, imap_tls=context) as ms:
        spec = f"imap:127.0.0.1:{ms.imap.port}"
        t = target(server, spec, tls="starttls", tls_ca=str(ca_file))
        profile = prepare_target(t)
        t.provisioner.seed("carol", corpus("small"))
        assert Pop3Access(t, profile).count("carol") == 3
        expunged = ms.imap.expunged
        t.provisioner.clear("carol")
        assert ms.imap.expunged == expunged + 1 and ms.imap.secured >= 3
        # A certificate the harness cannot verify stops the run before any scenario.
        untrusted = target(server, spec, tls="starttls")
        with pytest.raises(ProvisionError, match=r"STARTTLS failed: .*CERTIFICATE_VERIFY_FAILED"):
            prepare_target(untrusted)


def test_smtp_starttls_and_auth_keep_the_secret_out_of_every_output(tmp_path: Path) -> None:
    context, ca_file = _tls(tmp_path)
    with EmbeddedServer() as plain, mail_system(plain, tmp_path, smtp_tls=context) as ms:
        spec = f"smtp:127.0.0.1:{ms.smtp_port}"
        extra = [
            "--deliver-tls",
            "starttls",
            "--tls-ca",
            str(ca_file),
            "--recipient",
            "{user}@mail.test",
        ]
        code = run_cli(
            plain, tmp_path, "--provision", spec, "--deliver-auth", "relay:relay-secret", *extra
        )
        assert code == 0
        assert [via for _, via in ms.store.delivered] == ["ESMTP"] * 3
        for report in (tmp_path / "report").iterdir():
            assert "relay-secret" not in report.read_text(errors="replace"), report.name
        described = json.loads((tmp_path / "report" / "results.json").read_text())["target"]
        assert described["provision"]["auth_user"] == "relay"
        # A wrong secret is refused at the start, and the message does not repeat it.
        code = run_cli(
            plain, tmp_path, "--provision", spec, "--deliver-auth", "relay:guessed-pw", *extra
        )
        assert code == EXIT_USAGE


def test_deliverer_secrets_are_redacted_like_passwords(server: EmbeddedServer) -> None:
    t = target(server, "smtp:127.0.0.1:25", auth_user="relay", auth_password="s3cr3t-relay")
    assert "s3cr3t-relay" in secrets_of(t)
    assert "s3cr3t-relay" not in json.dumps(t.describe())


def test_seeding_a_mailbox_not_declared_disposable_is_refused(
    server: EmbeddedServer, system: MailSystem
) -> None:
    t = target(server, ways(system)["lmtp"], disposable=False)
    prepare_target(t)
    with pytest.raises(ProvisionError, match="account 'carol' is not declared disposable"):
        t.provisioner.seed("carol", corpus("small"))


# -- helpers --------------------------------------------------------------------------


def run_cli(server: EmbeddedServer, tmp_path: Path, *extra: str) -> int:
    argv = [
        "run",
        "--host",
        server.host,
        "--port",
        str(server.port),
        "--select",
        "core.basic.small-mailbox",
    ]
    argv += ["--report-dir", str(tmp_path / "report")]
    for account in server.accounts[:4]:
        argv += ["--account", f"{account.user}:{account.password}", "--disposable", account.user]
    return main([*argv, *extra])


def run_one(t: Target, profile: ServerProfile, scenario_id: str) -> ScenarioResult:
    [scenario] = scenarios([scenario_id])
    return run_leased(scenario, t, profile, AccountPool(t.accounts), PassiveCollector())


def test_a_corpus_the_mail_system_refuses_is_unsupported_not_an_error(
    server: EmbeddedServer, system: MailSystem
) -> None:
    # SMTP refuses a line over 1000 octets (RFC 5321 section 4.5.3.1.6); LMTP here,
    # as Dovecot's, takes it.
    relay = {"auth_user": "relay", "auth_password": "relay-secret"}
    part = scenarios(["core.sizes.long-line", "core.sizes.bare-cr"])
    run = run_campaign(part, target(server, ways(system)["smtp"], **relay), RunOptions())
    judged = {s.id: s for s in run.scenarios}
    refused = judged["core.sizes.long-line"]
    assert refused.outcome.value == "unsupported" and refused.setup == "--provision"
    assert "needs the long-line corpus, and the smtp provisioner's mail system refused it" in (
        refused.reason
    )
    assert "did not take message l01-long-line" in refused.reason and "500" in refused.reason
    # The rest of the shapes goes through the same relay.
    assert judged["core.sizes.bare-cr"].outcome.value == "pass"
    lmtp = run_campaign(part, target(server, ways(system)["lmtp"]), RunOptions())
    assert {s.outcome.value for s in lmtp.scenarios} == {"pass"}
