"""The Dovecot lab server: start, seed (exec and Maildir), POP3 on the wire, stop.

Each test that reads a mailbox empties it first, with the clear command the
exec provisioner would run, so the tests do not depend on their order.
"""

from __future__ import annotations

import os
import pwd
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conformance.lab import (
    DOVECOT,
    LAB_SERVERS,
    LabError,
    LabInstance,
    LabProcess,
    free_port,
)
from conformance.lab.servers import LabServer
from tests.lab.conftest import Pop3

MESSAGE_1 = b"From: lab@example.org\r\nSubject: first\r\n\r\nbody one\r\n"
MESSAGE_2 = b"From: lab@example.org\r\nSubject: second\r\n\r\nbody two\r\n.dot line\r\n"


def run_template(template: str, **fields: str) -> None:
    """Run a provisioner template as the exec provisioner does: split, then fill each word."""
    argv = [word.format(**fields) for word in shlex.split(template)]
    subprocess.run(argv, check=True, timeout=60, stdin=subprocess.DEVNULL, capture_output=True)


def stat(instance: LabInstance, user: str, password: str) -> str:
    client = Pop3(instance)
    try:
        client.login(user, password)
        reply = client.cmd("STAT")
        assert client.cmd("QUIT").startswith("+OK")
        return reply
    finally:
        client.close()


def process_ended(pid: int) -> bool:
    """Read /proc directly, independent of the lab's own process code."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(") ")[2].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")  # a zombie no longer runs (see LabProcess.alive)


# --- no server needed -------------------------------------------------------


def test_free_port_is_bindable_and_below_the_ephemeral_range() -> None:
    port = free_port()
    assert 20000 <= port < 32768
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # raises if it was not free


def test_free_port_rejects_a_bound_below_its_range() -> None:
    with pytest.raises(ValueError):
        free_port(below=20000)


def test_available_says_why_not(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = LabServer("ghost", "dovecot.sh", ("/nonexistent/ghostd",), (), "mail/{user}")
    ok, reason = missing.available()
    if os.geteuid() == 0:
        assert not ok
        assert "/nonexistent/ghostd" in reason
        assert "install-servers.sh ghost" in reason
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert DOVECOT.available() == (False, "the dovecot lab script must run as root")


def test_registry_and_templates_shape() -> None:
    assert LAB_SERVERS["dovecot"] is DOVECOT
    instance = LabInstance(
        server="dovecot",
        host="127.0.0.1",
        port=1,
        accounts=[],
        maildir_template="",
        root=Path("/tmp/a dir"),
        script=DOVECOT.script_path,
        master=LabProcess(pid=0, start_ticks=0, name="none"),
        start_seconds=0.0,
    )
    words = shlex.split(instance.seed_cmd())
    assert words[2:] == ["seed", "/tmp/a dir", "{user}", "{file}"]
    assert shlex.split(instance.clear_cmd())[2:] == ["clear", "/tmp/a dir", "{user}"]


# --- against a live Dovecot ---------------------------------------------------


@pytest.mark.dovecot
def test_greeting_login_and_prompt_failure(dovecot: LabInstance) -> None:
    assert dovecot.start_seconds < 10
    client = Pop3(dovecot)
    try:
        assert client.greeting.startswith("+OK")
        assert client.cmd("USER dave").startswith("+OK")
        began = time.monotonic()
        assert client.cmd("PASS wrong").startswith("-ERR")
        # the lab config answers failed logins at once (stock Dovecot: 2 s+)
        assert time.monotonic() - began < 1.5
        client.login("dave", "davepw")
        assert client.cmd("QUIT").startswith("+OK")
    finally:
        client.close()


@pytest.mark.dovecot
def test_exec_seed_orders_messages_and_clear_empties(dovecot: LabInstance, tmp_path: Path) -> None:
    run_template(dovecot.clear_cmd(), user="bob")
    files = []
    for n, content in enumerate((MESSAGE_1, MESSAGE_2), start=1):
        path = tmp_path / f"message {n}.eml"  # a space: the template must quote it
        path.write_bytes(content)
        files.append(path)
    for path in files:
        run_template(dovecot.seed_cmd(), user="bob", file=str(path))
    client = Pop3(dovecot)
    try:
        client.login("bob", "bobpw")
        assert client.cmd("STAT") == f"+OK 2 {len(MESSAGE_1) + len(MESSAGE_2)}"
        assert client.multi("RETR 1")[1] == MESSAGE_1
        assert client.multi("RETR 2")[1] == MESSAGE_2
        assert client.cmd("QUIT").startswith("+OK")
    finally:
        client.close()
    run_template(dovecot.clear_cmd(), user="bob")
    assert stat(dovecot, "bob", "bobpw") == "+OK 0 0"


@pytest.mark.dovecot
def test_maildir_file_written_by_root_is_served(dovecot: LabInstance) -> None:
    run_template(dovecot.clear_cmd(), user="alice")
    maildir = Path(dovecot.maildir_template.format(user="alice"))
    # What the maildir provisioner does: write into new/ as root, then chown
    # the file to the owner of the existing Maildir directory.
    owner = (maildir / "new").stat()
    assert owner.st_uid == pwd.getpwnam("mail").pw_uid
    path = maildir / "new" / "1700000000.M1P1.conformance"
    path.write_bytes(MESSAGE_2)
    os.chown(path, owner.st_uid, owner.st_gid)
    assert stat(dovecot, "alice", "alicepw") == f"+OK 1 {len(MESSAGE_2)}"
    run_template(dovecot.clear_cmd(), user="alice")
    assert stat(dovecot, "alice", "alicepw") == "+OK 0 0"


@pytest.mark.dovecot
def test_dele_then_quit_removes_the_message(dovecot: LabInstance, tmp_path: Path) -> None:
    dovecot.clear("carol")
    (tmp_path / "1.eml").write_bytes(MESSAGE_1)
    (tmp_path / "2.eml").write_bytes(MESSAGE_2)
    dovecot.seed("carol", tmp_path / "1.eml", tmp_path / "2.eml")
    client = Pop3(dovecot)
    try:
        client.login("carol", "carolpw")
        assert client.cmd("DELE 1").startswith("+OK")
        assert client.cmd("QUIT").startswith("+OK")
    finally:
        client.close()
    client = Pop3(dovecot)
    try:
        client.login("carol", "carolpw")
        assert client.cmd("STAT") == f"+OK 1 {len(MESSAGE_2)}"
        assert client.multi("RETR 1")[1] == MESSAGE_2
        assert client.cmd("QUIT").startswith("+OK")
    finally:
        client.close()


@pytest.mark.dovecot
def test_start_refuses_a_port_in_use(dovecot: LabInstance, tmp_path: Path) -> None:
    with pytest.raises(LabError, match="already accepts connections"):
        DOVECOT.start(tmp_path / "second", port=dovecot.port, timeout=5)


@pytest.mark.dovecot
def test_stop_ends_master_and_open_sessions(dovecot: LabInstance, tmp_path: Path) -> None:
    # Its own instance: the session fixture must outlive this test.  (The
    # fixture proves Dovecot is available, or skips this test.)
    instance = DOVECOT.start(tmp_path / "stopped")
    client = Pop3(instance, timeout=5)
    try:
        client.login("alice", "alicepw")
        processes = instance.processes()
        assert instance.master in processes
        # Dovecot's master leaves running sessions behind on SIGTERM: there
        # must be one here for this test to mean anything.
        assert any(p.name == "pop3" for p in processes), processes
        instance.stop()
        for process in processes:
            assert process_ended(process.pid), process
            assert not process.alive()
        assert instance.processes() == []
        # The open session was cut, not left serving: at most Dovecot's
        # parting line, then the end of the stream.
        client.sock.settimeout(5)
        assert client.file.read() in (b"", b"-ERR [SYS/TEMP] Server shutting down.\r\n")
        with pytest.raises(OSError):
            socket.create_connection((instance.host, instance.port), timeout=2).close()
        instance.stop()  # idempotent
    finally:
        client.close()
        instance.stop()


@pytest.mark.dovecot
def test_stop_ends_what_a_killed_master_left_behind(dovecot: LabInstance, tmp_path: Path) -> None:
    # A master ended by someone else leaves its log, stats and pop3 processes
    # running (measured); stop() still finds them by the recorded master pid.
    instance = DOVECOT.start(tmp_path / "orphans")
    client = Pop3(instance, timeout=5)
    try:
        client.login("alice", "alicepw")
        processes = instance.processes()
        os.kill(instance.master.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while instance.master.alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not instance.master.alive()
        survivors = instance.processes()
        assert any(p.name == "pop3" for p in survivors), survivors
        assert client.cmd("NOOP").startswith("+OK")  # still serving without a master
        instance.stop()
        assert [p for p in processes if not process_ended(p.pid)] == []
    finally:
        client.close()
        instance.stop()
