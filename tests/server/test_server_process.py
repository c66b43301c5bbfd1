"""The process side: CLI, the embedded launcher, autologout, a clean stop."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conformance.server import cli
from conformance.server.app import Pop3Server
from conformance.server.config import ServerConfig
from conformance.server.embedded import REPO_ROOT, EmbeddedServer


def test_cli_refuses_a_template_without_user(tmp_path, capsys):
    assert cli.main(["--maildir", str(tmp_path), "--account", "a:b"]) == 2
    assert "{user}" in capsys.readouterr().err


def test_cli_refuses_an_account_without_colon_and_does_not_echo_it(tmp_path, capsys):
    assert cli.main(["--maildir", str(tmp_path / "{user}"), "--account", "secretish"]) == 2
    assert "secretish" not in capsys.readouterr().err


def test_cli_splits_accounts_at_the_first_colon():
    assert cli._accounts(["a:b:c", "d:"]) == {"a": "b:c", "d": ""}


def test_embedded_server_reports_startup_failure_with_stderr():
    broken = EmbeddedServer(accounts=("a",), extra_args=["--autologout", "-5"])
    with pytest.raises(RuntimeError, match="autologout must be positive"):
        broken.start()
    assert not broken.running


def test_embedded_server_stops_cleanly_and_removes_its_directory():
    server = EmbeddedServer(accounts=("a", "b")).start()
    root = server.root
    assert root is not None and (root / "mail" / "b" / "new").is_dir()
    assert server.maildir_template == str(root / "mail" / "{user}")
    assert "password" not in repr(server.accounts[0])
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        assert sock.recv(512).startswith(b"+OK <")
    server.stop()
    assert server.returncode == 0  # SIGTERM is a clean stop, not a kill
    assert not root.exists()
    server.stop()  # idempotent


def test_embedded_server_keeps_a_given_root(tmp_path):
    with EmbeddedServer(root=tmp_path, accounts=("a",)) as server:
        assert server.maildir("a") == tmp_path / "mail" / "a"
    assert (tmp_path / "mail" / "a").is_dir()


def test_child_finds_the_package_without_installation(tmp_path):
    # What the launcher relies on: PYTHONPATH = the repo root, from any cwd.
    result = subprocess.run(
        [sys.executable, "-m", "conformance.server", "--help"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 0 and b"--maildir" in result.stdout


def test_autologout_closes_silently_without_update_and_frees_the_lock():
    with EmbeddedServer(accounts=("a",), extra_args=["--autologout", "0.5"]) as server:
        account = server.accounts[0]
        message = server.maildir("a") / "new" / "1.x"
        message.write_bytes(b"Subject: x\n\nbody\n")
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            reader = sock.makefile("rb")
            reader.readline()
            sock.sendall(f"USER a\r\nPASS {account.password}\r\nDELE 1\r\n".encode())
            for _ in range(3):
                assert reader.readline().startswith(b"+OK")
            started = time.monotonic()
            assert reader.read() == b""  # EOF, and not a byte before it
            assert 0.3 < time.monotonic() - started < 4
        assert message.exists()
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            reader = sock.makefile("rb")
            reader.readline()
            sock.sendall(f"USER a\r\nPASS {account.password}\r\nQUIT\r\n".encode())
            assert [reader.readline()[:3] for _ in range(3)] == [b"+OK"] * 3


def test_in_process_close_ends_sessions_without_update(tmp_path: Path):
    (tmp_path / "a" / "new").mkdir(parents=True)
    message = tmp_path / "a" / "new" / "1"
    message.write_bytes(b"x\n")
    config = ServerConfig(str(tmp_path / "{user}"), {"a": "pw"})

    async def scenario() -> None:
        server = Pop3Server(config)
        await server.start()
        host, port = server.address
        reader, writer = await asyncio.open_connection(host, port)
        await reader.readline()
        writer.write(b"USER a\r\nPASS pw\r\nDELE 1\r\n")
        for _ in range(3):
            assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"+OK")
        assert len(server.locks) == 1
        await asyncio.wait_for(server.close(), 5)
        assert len(server.locks) == 0
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()

    asyncio.run(scenario())
    assert message.exists()
