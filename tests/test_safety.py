"""Safe against a real server: destructive scenarios only on disposable accounts."""

from __future__ import annotations

import json
from pathlib import Path

from conformance.cli import main
from conformance.messages import corpus
from conformance.provision import make_provisioner
from conformance.server.embedded import EmbeddedServer

DESTRUCTIVE = """\
id: t.destroy
title: deletes message 1 for real
requirements: RFC1939-6.QUIT-1
mailbox: none
destructive: yes
---
login A
C: DELE 1
S: +OK
quit A
"""


def run(tmp_path: Path, server: EmbeddedServer, *extra: str) -> dict[str, object]:
    suites = tmp_path / "suites"
    suites.mkdir(exist_ok=True)
    (suites / "d.pop3").write_text(DESTRUCTIVE)
    account = server.accounts[0]
    report = tmp_path / "report"
    main(
        [
            "run", "--suites", str(suites), "--host", server.host, "--port", str(server.port),
            "--account", f"{account.user}:{account.password}", "--report-dir", str(report), *extra,
        ]
    )  # fmt: skip
    results: dict[str, object] = json.loads((report / "results.json").read_text())
    return results


def test_destructive_scenario_left_alone_without_disposable(tmp_path: Path) -> None:
    with EmbeddedServer() as server:
        user = server.accounts[0].user
        make_provisioner(f"maildir:{server.maildir_template}").seed(user, corpus("small"))
        new = Path(server.maildir_template.format(user=user)) / "new"
        before = sorted(p.name for p in new.iterdir())

        results = run(tmp_path, server)
        scenario = results["scenarios"][0]  # type: ignore[index]
        assert scenario["outcome"] == "unsupported"
        assert "not declared disposable" in scenario["reason"]
        assert sorted(p.name for p in new.iterdir()) == before

        results = run(tmp_path, server, "--disposable", user)
        assert results["scenarios"][0]["outcome"] == "pass"  # type: ignore[index]
        assert len(list(new.iterdir())) == len(before) - 1
