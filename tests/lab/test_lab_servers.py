"""Every lab server: start, POP3 on the wire, provisioning through exec, stop.

Each server gets a fresh instance in a private (0700) temporary folder, the
way ``pop3-conformance lab run`` starts one, and is provisioned the way the
harness does it: the exec provisioner running the instance's seed and clear
command templates.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import ssl
import tempfile
import time
from pathlib import Path

import pytest

from conformance.cli import EXIT_NOTHING, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, main
from conformance.commands import lab as lab_command
from conformance.lab import LAB_SERVERS, LabInstance, LabServer
from conformance.messages import Message
from conformance.provision import make_provisioner
from tests.lab.conftest import Pop3, port_accepts, process_ended, processes_mentioning, require

FIRST = Message(
    "first", b"From: lab@example.org\r\nSubject: first\r\nMessage-ID: <1@lab>\r\n\r\none\r\n"
)
SECOND = Message(
    "second",
    b"From: lab@example.org\r\nSubject: second\r\nMessage-ID: <2@lab>\r\n\r\ntwo\r\n.dot\r\n",
)
STAT = re.compile(r"\+OK (\d+) (\d+)")
# Different sizes in no particular order, so that neither size nor name order
# can pass for the seeding order.
MANY = [
    Message(
        f"m{i}-{n}", f"Subject: m{i}-{n}\r\nMessage-ID: <{i}@many>\r\n\r\n{'x' * n}\r\n".encode()
    )
    for i, n in enumerate((3, 1, 4, 1, 5, 9, 2, 6))
]


def subjects_in_order(instance: LabInstance, user: str, password: str, count: int) -> list[str]:
    client = Pop3(instance)
    try:
        client.login(user, password)
        subjects = []
        for n in range(1, count + 1):
            status, body = client.multi(f"RETR {n}")
            assert status.startswith("+OK"), status
            found = re.search(rb"^Subject: (\S+)\r$", body, re.MULTILINE)
            assert found, body[:200]
            subjects.append(found.group(1).decode())
        assert client.cmd("QUIT").startswith("+OK")
        return subjects
    finally:
        client.close()


def stat_count(instance: LabInstance, user: str, password: str) -> int:
    client = Pop3(instance)
    try:
        client.login(user, password)
        reply = client.cmd("STAT")
        assert client.cmd("QUIT").startswith("+OK")
    finally:
        client.close()
    match = STAT.match(reply)
    assert match, reply
    return int(match.group(1))


@pytest.mark.parametrize("name", list(LAB_SERVERS))
def test_start_login_seed_clear_stop(name: str, tmp_path: Path) -> None:
    server = require(name)
    assert (tmp_path.stat().st_mode & 0o777) == 0o700  # as a mkdtemp folder is
    instance = server.start(tmp_path / name)
    client: Pop3 | None = None
    try:
        assert instance.start_seconds < 15
        assert 20000 <= instance.port < 32768
        assert (instance.root / "run" / "master.pid").is_file()
        # Provisioned as the harness does it: exec, one seed command per message.
        provisioner = make_provisioner(
            "exec", seed_cmd=instance.seed_cmd(), clear_cmd=instance.clear_cmd()
        )
        # Seeded in quick succession, one command per message: the order must
        # still be the seeding order (Courier's own file names do not sort so).
        provisioner.seed("carol", MANY)
        assert subjects_in_order(instance, "carol", "carolpw", len(MANY)) == [m.name for m in MANY]
        provisioner.clear("carol")
        provisioner.seed("alice", [FIRST, SECOND])

        client = Pop3(instance)
        assert client.greeting.startswith("+OK")
        client.login("alice", "alicepw")
        assert STAT.match(client.cmd("STAT")), "STAT must answer +OK count size"
        status, body = client.multi("LIST")
        assert status.startswith("+OK")
        assert [line.split()[0] for line in body.splitlines()] == [b"1", b"2"]
        # Seeded in order => numbered in order (Cyrus adds headers, so only
        # the message's own lines are compared).
        status, body = client.multi("RETR 1")
        assert status.startswith("+OK") and b"Subject: first\r\n" in body
        status, body = client.multi("RETR 2")
        assert status.startswith("+OK") and b"Subject: second\r\n" in body
        assert b"\r\n.dot\r\n" in body  # dot-stuffing undone by the client
        assert client.cmd("QUIT").startswith("+OK")
        client.close()
        client = None

        provisioner.clear("alice")
        assert stat_count(instance, "alice", "alicepw") == 0
        # The other accounts exist too, with the lab's passwords.
        for user, password in instance.accounts[1:]:
            assert stat_count(instance, user, password) == 0

        # An open session while stopping: its process must end as well.
        client = Pop3(instance)
        client.login("bob", "bobpw")
        processes = instance.processes()
        assert instance.master in processes
        assert len(processes) >= 2, processes  # master + the open session at least
        instance.stop()
        for process in processes:
            assert process_ended(process.pid), process
        assert instance.processes() == []
        assert not port_accepts(instance.host, instance.port)
        assert not (instance.root / "run" / "master.pid").exists()
        instance.stop()  # idempotent
    finally:
        if client is not None:
            client.close()
        instance.stop()


# The servers that keep an APOP mailbox to APOP alone (RFC 1939 section 13);
# Cyrus checks USER/PASS and APOP against the one sasldb secret.
APOP_ONLY = {"dovecot", "mailutils", "solidpop3d"}


def _tls_context(cafile: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=None if cafile is None else str(cafile))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _stls_session(instance: LabInstance, context: ssl.SSLContext) -> Pop3:
    """A session switched to TLS with STLS, the certificate checked for its name."""
    client = Pop3(instance)
    status, capa = client.multi("CAPA")
    assert status.startswith("+OK") and b"STLS\r\n" in capa, capa
    assert client.cmd("STLS").startswith("+OK")
    tls = context.wrap_socket(client.sock, server_hostname=instance.tls_servername)
    return Pop3(instance, sock=tls)


@pytest.mark.parametrize("name", list(LAB_SERVERS))
def test_tls_and_apop_where_the_server_has_them(name: str, tmp_path: Path) -> None:
    server = require(name)
    instance = server.start(tmp_path / name)
    try:
        if server.tls_ca is None:
            assert (instance.tls_port, instance.tls_ca, instance.tls_servername) == (None,) * 3
        else:
            assert instance.tls_ca is not None and instance.tls_port is not None
            context = _tls_context(instance.tls_ca)
            # STLS on the POP3 port, verified for "localhost"; then a login inside TLS.
            client = _stls_session(instance, context)
            client.login("alice", "alicepw")
            assert STAT.match(client.cmd("STAT"))
            assert client.cmd("QUIT").startswith("+OK")
            client.close()
            # Implicit TLS on its own port, verified for the address (127.0.0.1).
            raw = socket.create_connection((instance.host, instance.tls_port), timeout=15)
            implicit = Pop3(instance, sock=context.wrap_socket(raw, server_hostname=instance.host))
            assert implicit.line().startswith("+OK")
            assert implicit.cmd("QUIT").startswith("+OK")
            implicit.close()
            # The CA is the instance's own: the system's trust store refuses it.
            raw = socket.create_connection((instance.host, instance.tls_port), timeout=15)
            with pytest.raises(ssl.SSLCertVerificationError):
                _tls_context(None).wrap_socket(raw, server_hostname=instance.tls_servername)
            raw.close()
        greeting = Pop3(instance)
        stamp = re.search(r"<[^<>]*>", greeting.greeting)
        greeting.close()
        if not server.apop:
            assert instance.apop_accounts == []
            assert stamp is None, "a server without APOP greets without a timestamp"
            return
        assert stamp is not None, greeting.greeting
        (user, secret), *_ = instance.apop_accounts
        assert user not in dict(instance.accounts)
        instance.seed(user, _message_file(tmp_path, FIRST))
        client = Pop3(instance)
        stamp = re.search(r"<[^<>]*>", client.greeting)
        assert stamp is not None
        digest = hashlib.md5((stamp.group(0) + secret).encode(), usedforsecurity=False).hexdigest()
        assert client.cmd(f"APOP {user} {digest}").startswith("+OK")
        assert client.cmd("STAT").startswith("+OK 1 ")
        assert client.cmd("QUIT").startswith("+OK")
        client.close()
        instance.clear(user)
        client = Pop3(instance)
        assert client.cmd(f"USER {user}").startswith("+OK")
        answer = client.cmd(f"PASS {secret}")
        assert answer.startswith("-ERR" if name in APOP_ONLY else "+OK"), answer
        client.close()
    finally:
        instance.stop()


def _message_file(folder: Path, message: Message) -> Path:
    path = folder / f"{message.name}.eml"
    path.write_bytes(message.data)
    return path


@pytest.mark.parametrize("name", ["popa3d", "cyrus"])
def test_stop_ends_what_a_killed_master_left_behind(name: str, tmp_path: Path) -> None:
    # socat (popa3d's master) leaves its forked sessions running when it is
    # killed, and Cyrus's master ends its children only on a clean SIGTERM;
    # stop still finds them through the recorded master's session id.
    server = require(name)
    instance = server.start(tmp_path / name)
    client = Pop3(instance)
    try:
        client.login("carol", "carolpw")
        processes = instance.processes()
        os.kill(instance.master.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while instance.master.alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not instance.master.alive()
        survivors = instance.processes()
        assert survivors, "the master took its children along: nothing to test"
        instance.stop()
        assert [p for p in processes if not process_ended(p.pid)] == []
    finally:
        client.close()
        instance.stop()


# --- pop3-conformance lab -------------------------------------------------------


def test_lab_list_names_every_server(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "list"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(LAB_SERVERS)
    for line, server in zip(lines, LAB_SERVERS.values(), strict=True):
        ok, reason = server.available()
        assert line.split()[1] == ("yes" if ok else "no")
        assert line.endswith(reason)


def test_lab_list_says_why_a_server_cannot_start() -> None:
    ghost = LabServer("ghost", "popa3d.sh", ("/nonexistent/ghostd",), ())
    line = lab_command.render_listing([ghost]).rstrip("\n")
    name, can, why = line.split(maxsplit=2)
    assert (name, can) == ("ghost", "no")
    assert why == ghost.available()[1] and why


def test_lab_run_refuses_an_unknown_server(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "run", "nosuchd"]) == EXIT_USAGE
    assert "unknown lab server 'nosuchd'" in capsys.readouterr().err


def test_lab_run_with_nothing_selected(tmp_path: Path) -> None:
    code = main(["lab", "run", "popa3d", "--select", "no.such.*", "--report-dir", str(tmp_path)])
    assert code == EXIT_NOTHING


def test_lab_run_when_the_server_cannot_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(LabServer, "available", lambda self, listeners=(): (False, "not here"))
    code = main(["lab", "run", "popa3d", "--select", "core.basic.*", "--report-dir", str(tmp_path)])
    assert code == EXIT_UNREACHABLE
    assert "not here" in capsys.readouterr().err


@pytest.mark.slow
def test_lab_run_end_to_end(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    require("popa3d")
    # The instance's temporary folder is made under a folder of ours, so that
    # the test can see whether anything started there is still running.
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    report = tmp_path / "report"
    argv = ["lab", "run", "popa3d", "--select", "core.basic.*", "--jobs", "4"]
    code = main([*argv, "--report-dir", str(report)])
    results = json.loads((report / "results.json").read_text())
    outcomes = {s["id"]: s["outcome"] for s in results["scenarios"]}
    assert outcomes and all(i.startswith("core.basic.") for i in outcomes)
    assert "error" not in outcomes.values(), results["scenarios"]
    assert code == (EXIT_OK if set(outcomes.values()) <= {"pass", "info", "unsupported"} else 1)
    # Every account disposable, provisioned through exec, a lab-sized timeout.
    target = results["target"]
    assert target["provisioner"] == "exec"
    assert [a["user"] for a in target["accounts"]] == ["alice", "bob", "carol", "dave"]
    assert all(a["disposable"] for a in target["accounts"])
    assert target["timeout"] >= 20
    for name in ("junit.xml", "summary.md", "report.html", "server-logs/popa3d.log"):
        assert (report / name).is_file(), name
    # The instance is gone: no process of it, its port closed, its folder removed.
    assert processes_mentioning(str(scratch)) == []
    assert not port_accepts(target["host"], target["port"])
    assert list(scratch.iterdir()) == []


def test_lab_run_stops_the_server_on_ctrl_c(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    require("popa3d")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    seen: list[int] = []

    def interrupted(*args: object, **kwargs: object) -> None:
        # The server is up when the campaign begins; then the user presses Ctrl-C.
        seen.extend(processes_mentioning(str(scratch)))
        raise KeyboardInterrupt

    monkeypatch.setattr(lab_command, "run_campaign", interrupted)
    code = main(["lab", "run", "popa3d", "--report-dir", str(tmp_path / "report")])
    assert code == lab_command.EXIT_INTERRUPTED
    assert seen, "no process of the instance was running during the campaign"
    assert [pid for pid in seen if not process_ended(pid)] == []
    assert processes_mentioning(str(scratch)) == []
