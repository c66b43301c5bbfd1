"""Dovecot reached only through the mail system, judged against its baseline.

The baseline (reports/baselines/dovecot.json) is the same server provisioned
through its own tools.  Here the harness never touches Dovecot's files: mail
goes in through its LMTP or IMAP listener (and comes back with Return-Path,
Delivered-To and Received fields), mailboxes are cleared through POP3 or
IMAP, or the mail already there is judged as it is.  Every scenario must come
out as in the baseline, except those listed below as ``unsupported`` by
design under that provisioner, each with the reason it gives.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.baseline import read_baseline
from conformance.campaign import default_suite_dirs, select
from conformance.cli_common import write_reports
from conformance.commands.lab import VIA_LISTENERS, judge, lab_target
from conformance.lab import CYRUS, DOVECOT, LabInstance, LabProcess
from conformance.provision import DeliveryOptions, make_deliverer
from conformance.results import RunResult
from conformance.scenario.loader import load_all
from conformance.scenario.steps import SLOW_TAG
from tests.lab.conftest import require
from tests.mail_system import ordinary_messages

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "reports" / "baselines" / "dovecot.json"
LAB_REPORTS = ROOT / "reports" / "lab"
# "A few ordinary messages" in every mailbox, for existing.
FEW = 5

_NO_DELIVERER = "--provision existing has no deliverer to put the mailbox back"
_EMPTY = "needs an empty mailbox, and account"
_UTF8 = "relies on the utf8 corpus"
_DOTS = "(the standard corpus's m02-dots)"
_EXACT = "a mailbox that holds exactly the messages the scenario names"
_CANNOT_DELIVER = "which the existing provisioner cannot (existing needs a deliverer"
_TWINS = "relies on messages 1 to 5 as the twins corpus has them"


def _names(n: int) -> str:
    return f"names message {n}, and account"


# What each way in cannot judge, on purpose, and why.  Scenarios the baseline
# already has unsupported (capabilities Dovecot lacks) are not listed.
UNSUPPORTED_BY_DESIGN: dict[str, dict[str, str]] = {
    # Delivery and clearing through the mail system judge everything a
    # file-system provisioner does.
    "lmtp": {},
    "imap": {},
    # Five ordinary messages, read-only: nothing may be removed, and the
    # corpus's particular messages are not there.
    "existing": {
        "core.basic.list-each": _names(6),
        "core.basic.minimal-commands": _NO_DELIVERER,
        "core.basic.retr-all": _names(6),
        "core.basic.stat-empty-maildrop": _EMPTY,
        "core.basic.top-more-lines-than-body": _names(6),
        "core.basic.top-some-lines": _DOTS,
        "core.basic.uidl-single": _names(6),
        "core.deletion.list-after-deleting-all": _names(7),
        "core.deletion.list-empty-maildrop": _EMPTY,
        "core.deletion.quit-commits-count": _NO_DELIVERER,
        "core.deletion.quit-removes-all": _NO_DELIVERER,
        "core.deletion.quit-removes-marked": _NO_DELIVERER,
        "core.deletion.quit-removes-several": _NO_DELIVERER,
        "core.deletion.rset-unmarks": _NO_DELIVERER,
        "core.deletion.uidl-persists-after-delete": _NO_DELIVERER,
        "core.drop.mid-retr-after-dele": _names(7),
        "core.locking.isolated-view-survives-other-quit": _NO_DELIVERER,
        "core.locking.shared-session-keeps-removed-message": _NO_DELIVERER,
        "ext.pipelining.dele-batch": _NO_DELIVERER,
        "ext.pipelining.large-answers-queued": _names(7),
        "ext.top.dot-lines": _DOTS,
        "ext.uidl.after-rset": _names(6),
        "ext.uidl.empty-maildrop": _EMPTY,
        "ext.uidl.persists-after-middle-deletes": _NO_DELIVERER,
        "ext.uidl.small-maildrop": _EXACT,
        # Ordinary messages have none of the shapes stores mangle, nor near-duplicates.
        "core.deletion.new-mail-survives-dele-quit": _CANNOT_DELIVER,
        "core.deletion.new-mail-survives-quit": _CANNOT_DELIVER,
        "core.sizes.bare-cr": "a message 5 with a CR inside a line",
        "core.sizes.bare-lf": "(the shapes corpus's x02)",
        "core.sizes.eight-bit": "a message 4 with 8-bit octets in its body",
        "core.sizes.empty-body": "a message 3 with an empty body",
        "core.sizes.from-lines": _names(6),
        "core.sizes.header-only": _names(7),
        "core.sizes.long-line": "a message 1 with a line over 998 octets",
        "core.sizes.no-final-newline": "(the shapes corpus's x01)",
        "core.sizes.top-agrees-with-retr": _names(7),
        "core.sizes.totals": _names(7),
        "ext.uidl.near-duplicates": _TWINS,
        "ext.uidl.near-duplicates-across-sessions": _TWINS,
        "ext.uidl.near-duplicates-after-deletes": _NO_DELIVERER,
    },
}
# With LMTP to put back what they remove (and to deliver), destructive scenarios
# and those that deliver run too.
UNSUPPORTED_BY_DESIGN["existing+lmtp"] = {
    sid: why
    for sid, why in UNSUPPORTED_BY_DESIGN["existing"].items()
    if why not in (_NO_DELIVERER, _CANNOT_DELIVER)
} | {"ext.uidl.near-duplicates-after-deletes": _TWINS}


def _fill(instance: LabInstance) -> None:
    """Every mailbox gets a few ordinary messages, through LMTP, before the run."""
    lmtp = make_deliverer(f"lmtp:{instance.host}:{instance.listeners['lmtp']}", DeliveryOptions())
    for user, _ in instance.accounts + instance.apop_accounts:
        lmtp.deliver(user, ordinary_messages(FEW))


def _judge(via: str) -> RunResult:
    listeners = (*VIA_LISTENERS[via], "lmtp")
    require("dovecot", listeners)
    scenarios, errors = load_all(default_suite_dirs())
    assert not errors
    out = LAB_REPORTS / f"dovecot-{via}"
    existing = via.startswith("existing")
    run = judge(
        DOVECOT,
        select(scenarios, []),
        via=via,
        listeners=listeners,
        on_start=_fill if existing else None,
        logs_to=out / "server-logs",
    )
    write_reports(run, out)
    return run


@pytest.mark.lab
@pytest.mark.parametrize("via", sorted(UNSUPPORTED_BY_DESIGN))
def test_dovecot_through_the_mail_system_matches_its_baseline(via: str) -> None:
    run = _judge(via)
    base, _ = read_baseline(BASELINE)
    # The baselines hold the slow timers too (run --slow); CI runs the fast set.
    expected = {s.id: s.outcome.value for s in base.scenarios if SLOW_TAG not in s.tags}
    by_design = UNSUPPORTED_BY_DESIGN[via]
    differences = []
    for scenario in run.scenarios:
        if scenario.id in by_design:
            if (
                scenario.outcome.value != "unsupported"
                or by_design[scenario.id] not in scenario.reason
            ):
                differences.append(f"{scenario.id}: {scenario.outcome.value} {scenario.reason!r}")
        elif scenario.outcome.value != expected[scenario.id]:
            differences.append(
                f"{scenario.id}: {expected[scenario.id]} -> {scenario.outcome.value} "
                f"{scenario.reason!r}"
            )
    assert differences == [], f"Dovecot through {via} differs from its baseline"
    assert {s.id for s in run.scenarios} == set(expected)
    # Listing a scenario here is only ever about this provisioner.
    assert all(expected[sid] != "unsupported" for sid in by_design)
    if via.startswith("existing"):
        assert run.target["provision"]["mailboxes"] == {
            u: FEW for u in ("alice", "bob", "carol", "dave", "erin")
        }
    else:
        assert run.target["calibrate"] is True


@pytest.mark.lab
def test_cyrus_takes_mail_through_its_lmtp_listener_and_judges_as_in_its_baseline() -> None:
    """Cyrus's LMTP on loopback: a part of the suite through it, as its baseline has it."""
    require("cyrus", ("lmtp",))
    scenarios, errors = load_all(default_suite_dirs())
    assert not errors
    part = select(scenarios, ["core.basic.*", "core.deletion.*", "ext.uidl.*"])
    run = judge(CYRUS, part, via="lmtp", logs_to=LAB_REPORTS / "cyrus-lmtp" / "server-logs")
    write_reports(run, LAB_REPORTS / "cyrus-lmtp")
    base, _ = read_baseline(ROOT / "reports" / "baselines" / "cyrus.json")
    # The baselines hold the slow timers too (run --slow); CI runs the fast set.
    expected = {s.id: s.outcome.value for s in base.scenarios if SLOW_TAG not in s.tags}
    assert {s.id: s.outcome.value for s in run.scenarios} == {s.id: expected[s.id] for s in part}
    assert run.target["provision"]["deliverer"].startswith("lmtp:127.0.0.1:")


def test_lab_targets_for_each_way_in() -> None:
    instance = LabInstance(
        server="dovecot",
        host="127.0.0.1",
        port=11110,
        accounts=[("alice", "alicepw"), ("bob", "bobpw")],
        apop_accounts=[("erin", "erinpw")],
        tls_ca=Path("/nonexistent/etc/tls/ca.pem"),
        maildir_template=None,
        root=Path("/nonexistent"),
        script=DOVECOT.script_path,
        master=LabProcess(pid=0, start_ticks=0, name="none"),
        start_seconds=0.0,
        listeners={"lmtp": 20024, "imap": 20143, "tls": 20995},
    )
    for via, deliverer, disposable in (
        ("lmtp", "lmtp:127.0.0.1:20024", True),
        ("imap", "imap:127.0.0.1:20143", True),
        ("existing+lmtp", "lmtp:127.0.0.1:20024", True),
        ("existing", None, False),
    ):
        target = lab_target(instance, 20.0, via)
        assert target.provisioner.describe().get("deliverer") == deliverer
        assert [a.disposable for a in target.accounts] == [disposable] * 3
        # The APOP mailbox is declared as one (RFC 1939 section 13).
        assert [(a.user, a.apop) for a in target.accounts] == [
            ("alice", False),
            ("bob", False),
            ("erin", True),
        ]
        assert target.calibrate
        # The harness verifies the lab's certificate: its CA, its name, never insecure.
        assert (target.tls_port, target.tls_ca, target.tls_servername) == (
            20995,
            "/nonexistent/etc/tls/ca.pem",
            "localhost",
        )
        assert not target.tls_insecure
    assert lab_target(instance, 20.0).provisioner.kind == "exec"
    with pytest.raises(ValueError, match="unknown way in 'ftp'"):
        lab_target(instance, 20.0, "ftp")
