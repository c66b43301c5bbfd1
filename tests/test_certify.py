"""``pop3-conformance certify`` end to end against the reference server, and its parts.

The end-to-end tests run the embedded reference server, clean and with the
``rset-ignored`` defect injected; the unit tests pin the waiver rules, the
suite hash and the secret scrubbing on hand-made data.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from conformance.campaign import default_suite_dirs
from conformance.cli import EXIT_FAIL, EXIT_NOTHING, EXIT_OK, EXIT_USAGE, main
from conformance.outcomes import Outcome
from conformance.report.certification import (
    NOT_CONFORMANT,
    certify,
    render_certification_html,
    suite_digest,
)
from conformance.results import (
    CheckResult,
    PassiveFinding,
    RunResult,
    ScenarioResult,
    TranscriptEntry,
)
from conformance.secrets import Secrets, scrub_run
from conformance.server.embedded import EmbeddedServer
from conformance.waivers import WaiverError, apply_waivers, parse_waivers

RSET_SCENARIOS = "core.deletion.rset-*"
RSET_WAIVER = """\
# RSET is known to be broken on this build.
[[waiver]]
requirement = "RFC1939-5.RSET-1"
reason = "RSET is a no-op until <release 2>"

[[waiver]]
scenario = "core.nothing-like-this.*"
reason = "left over from an old server"
"""


def certify_cli(report: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    code = main(["certify", "--report-dir", str(report), *extra])
    path = report / "certification.json"
    return code, json.loads(path.read_text()) if path.exists() else {}


def _requirement(cert: dict[str, Any], req_id: str) -> dict[str, Any]:
    return next(r for r in cert["requirements"] if r["id"] == req_id)


# -- end to end -------------------------------------------------------------------------


def test_clean_reference_server_is_conformant(tmp_path: Path) -> None:
    code, cert = certify_cli(tmp_path / "r")
    assert code == EXIT_OK
    assert cert["verdict"] == "CONFORMANT"
    assert cert["reasons"] == []
    assert cert["identity"]["implementation"] == "pop3-conformance-reference"
    assert cert["identity"]["greeting"].startswith("+OK")
    assert "IMPLEMENTATION pop3-conformance-reference" in cert["identity"]["capa"]
    assert cert["harness"]["selection"] == []
    # Every installed scenario file is in the hash.
    assert len(cert["harness"]["suite_files"]) == cert["harness"]["scenarios"] > 50
    assert len(cert["harness"]["suite_sha256"]) == 64
    assert cert["strict"]["strictly_conformant"] in (True, False)
    rows = {r["id"]: r for r in cert["requirements"]}
    assert rows["RFC1939-5.RSET-1"]["outcome"] == "pass"
    assert rows["RFC1939-5.RSET-1"]["level"].startswith(("MUST", "implied"))
    assert "unmarked" in rows["RFC1939-5.RSET-1"]["text"]
    for name in ("certification.html", "results.json", "report.html", "junit.xml", "summary.md"):
        assert (tmp_path / "r" / name).is_file(), name
    html = (tmp_path / "r" / "certification.html").read_text()
    assert 'id="verdict">CONFORMANT<' in html
    assert cert["harness"]["suite_sha256"] in html


def test_defect_is_not_conformant_and_names_the_requirement(tmp_path: Path) -> None:
    code, cert = certify_cli(tmp_path / "r", "--defect", "rset-ignored", "--select", RSET_SCENARIOS)
    assert code == EXIT_FAIL
    assert cert["verdict"] == NOT_CONFORMANT
    rset = _requirement(cert, "RFC1939-5.RSET-1")
    assert rset["outcome"] == "fail"
    assert rset["worst_in"] == ["core.deletion.rset-restores-access"]
    assert any(r.startswith("RFC1939-5.RSET-1 (MUST): fail") for r in cert["reasons"])
    assert cert["strict"]["strictly_conformant"] is False
    assert cert["harness"]["selection"] == [RSET_SCENARIOS]
    html = (tmp_path / "r" / "certification.html").read_text()
    assert 'id="verdict">NOT CONFORMANT<' in html
    assert 'id="req-RFC1939-5.RSET-1"' in html


def test_waiver_makes_the_defect_conformant_and_is_listed(tmp_path: Path) -> None:
    waivers = tmp_path / "waivers.toml"
    waivers.write_text(RSET_WAIVER)
    code, cert = certify_cli(
        tmp_path / "r",
        "--defect",
        "rset-ignored",
        "--select",
        RSET_SCENARIOS,
        "--waivers",
        str(waivers),
    )
    assert code == EXIT_OK, cert["reasons"]
    assert cert["verdict"] == "CONFORMANT"
    assert _requirement(cert, "RFC1939-5.RSET-1")["outcome"] == "waived"
    applied, stale = cert["waivers"]
    assert applied["status"] == "applied"
    assert applied["reason"] == "RSET is a no-op until <release 2>"
    assert "core.deletion.rset-restores-access" in applied["waived_scenarios"]
    assert stale["status"] == "stale"
    assert stale["where"].endswith("waivers.toml:6")
    # The run reports carry the waived grade with its reason too.
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    waived = [s for s in results["scenarios"] if s["outcome"] == "waived"]
    assert waived and all("RSET is a no-op" in s["reason"] for s in waived)
    html = (tmp_path / "r" / "certification.html").read_text()
    assert "RSET is a no-op until &lt;release 2&gt;" in html
    assert "<release 2>" not in html
    assert 'class="s-stale">stale<' in html


def test_same_server_same_verdict_and_suite_hash(tmp_path: Path) -> None:
    args = ("--defect", "rset-ignored", "--select", RSET_SCENARIOS)
    code1, first = certify_cli(tmp_path / "a", *args)
    code2, second = certify_cli(tmp_path / "b", *args)
    assert code1 == code2 == EXIT_FAIL
    assert first["verdict"] == second["verdict"]
    assert first["harness"] == second["harness"]
    assert first["requirements"] == second["requirements"]
    assert first["reasons"] == second["reasons"]


def test_no_password_in_any_written_file(tmp_path: Path) -> None:
    with EmbeddedServer(accounts=("alice", "bob")) as server:
        profile = tmp_path / "target.toml"
        accounts = "".join(
            f'[[account]]\nuser = "{a.user}"\npassword = "{a.password}"\n'
            f"apop = {str(a.apop).lower()}\n"
            for a in server.accounts
        )
        profile.write_text(
            f'[target]\nhost = "{server.host}"\nport = {server.port}\n\n{accounts}\n'
            f'[provision]\nkind = "maildir"\npath = "{server.maildir_template}"\n'
        )
        code, cert = certify_cli(
            tmp_path / "r", "--profile", str(profile), "--select", "core.state.*"
        )
        passwords = [a.password for a in server.accounts]
    assert code == EXIT_OK, cert["reasons"]
    assert [a["user"] for a in cert["profile"]["accounts"]] == ["alice", "bob", "erin", "frank"]
    written = [p for p in (tmp_path / "r").iterdir() if p.is_file()]
    assert len(written) >= 6
    for path in written:
        text = path.read_text(encoding="utf-8")
        for password in passwords:
            assert password not in text, path.name


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ('[[waiver]]\nrequirement = "RFC1939-5.RSET-1"\n', ":1:", "reason"),
        ('[[waiver]]\nscenario = "a"\nreason = "x"\n\n[[waiver]]\nreason = "y"\n', ":5:", "one of"),
        ('[[waiver]]\nscenario = "a"\nreason = "  "\n', ":1:", "reason"),
        ('[[waiver]]\nscenario = "a"\nreason = "x"\nreasn = "y"\n', ":1:", "unknown key 'reasn'"),
        ('[[waiver]]\nscenario = "a"\nreason = "x"\nexpires = "soon"\n', ":1:", "expires"),
        ('\n\n[[waiver]\nscenario = "a"\n', ":3:", "not valid TOML"),
        ('waiver = "a"\n', ":1:", "[[waiver]] tables"),
    ],
)
def test_malformed_waivers_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, where: str, what: str
) -> None:
    waivers = tmp_path / "w.toml"
    waivers.write_text(text)
    code, _ = certify_cli(tmp_path / "r", "--waivers", str(waivers))
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"{waivers}{where}" in err
    assert what in err
    assert not (tmp_path / "r").exists()  # read before anything ran


def test_missing_waivers_file_and_empty_selection(tmp_path: Path) -> None:
    code, _ = certify_cli(tmp_path / "r", "--waivers", str(tmp_path / "nope.toml"))
    assert code == EXIT_USAGE
    code, _ = certify_cli(tmp_path / "r", "--select", "no.such.scenario")
    assert code == EXIT_NOTHING


# -- waivers on hand-made runs ----------------------------------------------------------


def _check(req: str, outcome: Outcome) -> CheckResult:
    return CheckResult(req, "MUST", "", outcome, expected="+OK", actual="-ERR", note="n")


def _scenario(sid: str, reqs: list[str], checks: list[CheckResult]) -> ScenarioResult:
    return ScenarioResult(
        id=sid,
        title=sid,
        file=f"{sid}.pop3",
        section="RFC1939 §5",
        requirements=reqs,
        tags=[],
        outcome=max((c.outcome for c in checks), key=lambda o: o.severity),
        reason="original",
        checks=checks,
    )


def _run(*scenarios: ScenarioResult, passive: list[PassiveFinding] | None = None) -> RunResult:
    return RunResult(
        tool_version="0.1.0",
        started="2026-01-01T00:00:00+00:00",
        duration_s=1.0,
        target={"host": "h", "port": 1, "greeting": "+OK hi", "capa": None},
        scenarios=list(scenarios),
        passive=passive or [],
    )


def test_requirement_waiver_covers_listing_scenarios_and_citing_checks_only() -> None:
    run = _run(
        # lists RSET-1: waived whole, even its STAT-3 check
        _scenario(
            "a",
            ["RFC1939-5.RSET-1"],
            [_check("RFC1939-5.STAT-3", Outcome.FAIL), _check("RFC1939-5.RSET-1", Outcome.PASS)],
        ),
        # cites RSET-1 in a check only: that check is waived, the DELE-1 fail stays
        _scenario(
            "b",
            ["RFC1939-5.DELE-1"],
            [_check("RFC1939-5.RSET-1", Outcome.FAIL), _check("RFC1939-5.DELE-1", Outcome.FAIL)],
        ),
        # an error is never waived
        _scenario("c", ["RFC1939-5.RSET-1"], [_check("RFC1939-5.RSET-1", Outcome.ERROR)]),
        passive=[PassiveFinding("RFC1939-5.RSET-1", "x", "d", "a")],
    )
    waivers = parse_waivers('[[waiver]]\nrequirement = "RFC1939-5.RSET-*"\nreason = "why"\n', "w")
    out, (use,) = apply_waivers(run, waivers, today=dt.date(2026, 1, 1))
    a, b, c = out.scenarios
    assert a.outcome is Outcome.WAIVED and a.reason == "waived: why"
    assert [ch.outcome for ch in a.checks] == [Outcome.WAIVED, Outcome.PASS]
    assert a.checks[0].note.startswith("waived (fail; requirement RFC1939-5.RSET-*): why")
    assert b.outcome is Outcome.FAIL
    assert b.reason.startswith("RFC1939-5.DELE-1")  # no longer the waived check's
    assert [ch.outcome for ch in b.checks] == [Outcome.WAIVED, Outcome.FAIL]
    assert c.outcome is Outcome.ERROR
    assert out.passive[0].outcome is Outcome.WAIVED
    assert use.status == "applied"
    assert use.scenarios == ["a", "b", "passive: x"]
    # The input run is left as it was.
    assert run.scenarios[0].outcome is Outcome.FAIL
    cert = certify(out, [use], suite_digest([], []))
    assert cert.verdict == NOT_CONFORMANT
    assert any(r.startswith("RFC1939-5.DELE-1") for r in cert.reasons)


def test_expired_and_scenario_waivers() -> None:
    run = _run(_scenario("core.x.one", ["RFC1939-5-1"], [_check("RFC1939-5-1", Outcome.FAIL)]))
    text = (
        '[[waiver]]\nscenario = "core.x.*"\nreason = "old"\nexpires = 2026-01-01\n'
        '[[waiver]]\nscenario = "core.x.*"\nreason = "new"\nexpires = 2026-01-02\n'
    )
    out, (old, new) = apply_waivers(run, parse_waivers(text, "w"), today=dt.date(2026, 1, 1))
    assert old.status == "expired"
    assert new.status == "applied"
    assert out.scenarios[0].outcome is Outcome.WAIVED
    assert out.scenarios[0].reason == "waived: new"
    cert = certify(out, [old, new], suite_digest([], []))
    assert cert.verdict == "CONFORMANT"
    html = render_certification_html(cert)
    assert 'class="s-expired">expired<' in html


def test_waiver_error_names_the_line() -> None:
    with pytest.raises(WaiverError, match=r"^w\.toml:4: waiver #2: needs exactly one of"):
        parse_waivers(
            '[[waiver]]\nscenario = "a"\nreason = "x"\n[[waiver]]\nreason = "y"\n', "w.toml"
        )


def test_empty_run_is_not_conformant() -> None:
    cert = certify(_run(), [], suite_digest([], []))
    assert cert.verdict == NOT_CONFORMANT
    assert cert.reasons == ["no scenario ran: nothing was checked"]


# -- suite hash and secrets -------------------------------------------------------------


def test_suite_hash_depends_on_relative_paths_and_contents_only(tmp_path: Path) -> None:
    source = default_suite_dirs()[0]
    one, two = tmp_path / "one" / "suites", tmp_path / "elsewhere" / "x"
    shutil.copytree(source, one)
    shutil.copytree(source, two)
    files = sorted(one.rglob("*.pop3"))
    first = suite_digest(files, [one])
    # Another location, another order of the files: the same hash.
    assert suite_digest(sorted(two.rglob("*.pop3"), reverse=True), [two]) == first
    assert first.files[0].count("/") >= 1 and not first.files[0].startswith("/")
    victim = two / first.files[0]
    victim.write_bytes(victim.read_bytes() + b"\n")
    assert suite_digest(sorted(two.rglob("*.pop3")), [two]).sha256 != first.sha256
    victim.rename(victim.with_name("renamed.pop3"))
    assert suite_digest(sorted(two.rglob("*.pop3")), [two]).files != first.files


def test_scrub_secrets_reaches_every_string() -> None:
    check = CheckResult("RFC1939-7.PASS-1", "MUST", "", Outcome.FAIL, actual="-ERR hunter2 bad")
    scenario = _scenario("a", ["RFC1939-7.PASS-1"], [check])
    scenario.transcript = [TranscriptEntry(1.0, "A", "C", "PASS hunter2")]
    run = _run(scenario)
    scrubbed = json.dumps(scrub_run(run, Secrets(["hunter2"])).to_dict())
    assert "hunter2" not in scrubbed
    assert "PASS ********" in scrubbed
    assert "hunter2" in json.dumps(run.to_dict())  # the input is not modified
