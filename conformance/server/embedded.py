"""Run the reference server in a child process, for tests and for the default target.

A separate process keeps the server's event loop, locks and crashes apart from
the harness that judges it.  The child is ``python -m conformance.server`` on a
free loopback port; its ``listening on HOST:PORT`` line tells the port.

With ``tls=True`` a throw-away CA made by ``trustme`` signs a certificate for
``localhost`` and ``127.0.0.1``: the server offers STLS and an implicit TLS
port, and :attr:`EmbeddedServer.ca_pem` is what a client verifies against.
"""

from __future__ import annotations

import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Final

from conformance.server.cli import IMPLICIT_TLS_LISTENING, LISTENING
from conformance.server.config import USER_PLACEHOLDER

# The name the certificate is for (and 127.0.0.1, the address).
TLS_HOSTNAME: Final = "localhost"
STOP_GRACE: Final = 5.0
# The directory that holds the ``conformance`` package: the child imports from it.
REPO_ROOT: Final = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class EmbeddedAccount:
    user: str
    password: str = field(repr=False)
    apop: bool = False  # reached with APOP, not USER/PASS


class EmbeddedServer:
    """A reference server in a child process, with fresh accounts and maildirs.

    ``root`` holds ``mail/{user}`` maildirs and the child's stderr; without it a
    temporary directory is made and removed again by :meth:`stop`.
    """

    def __init__(
        self,
        root: Path | None = None,
        accounts: Sequence[str] = ("alice", "bob", "carol", "dave"),
        apop_accounts: Sequence[str] = ("erin", "frank"),
        startup_timeout: float = 10.0,
        extra_args: Sequence[str] = (),
        *,
        tls: bool = False,
        refuse_plaintext_auth: bool = False,
    ) -> None:
        if refuse_plaintext_auth and not tls:
            raise ValueError("refuse_plaintext_auth needs tls=True")
        self._given_root = root
        self._account_names = tuple(accounts)
        self._apop_names = tuple(apop_accounts)
        self.startup_timeout = startup_timeout
        self.extra_args = tuple(extra_args)
        self.tls = tls
        self.refuse_plaintext_auth = refuse_plaintext_auth
        self.root: Path | None = None
        self.host = ""
        self.port = 0
        # With tls=True: the implicit TLS port, and the CA file that verifies the server.
        self.tls_port = 0
        self.ca_pem: Path | None = None
        self.server_hostname = TLS_HOSTNAME
        self.accounts: list[EmbeddedAccount] = []
        self.maildir_template = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._owns_root = False
        self.returncode: int | None = None  # the child's exit status, once stopped

    def start(self) -> EmbeddedServer:
        if self._process is not None:
            raise RuntimeError("embedded server already started")
        if self._given_root is None:
            self.root = Path(tempfile.mkdtemp(prefix="pop3-reference-"))
            self._owns_root = True
        else:
            self.root = self._given_root
            self.root.mkdir(parents=True, exist_ok=True)
        self.maildir_template = str(self.root / "mail" / USER_PLACEHOLDER)
        self.accounts = [
            EmbeddedAccount(name, secrets.token_hex(12)) for name in self._account_names
        ] + [EmbeddedAccount(name, secrets.token_hex(12), True) for name in self._apop_names]
        for account in self.accounts:
            for sub in ("new", "cur", "tmp"):
                (self.root / "mail" / account.user / sub).mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "conformance.server",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--maildir",
            self.maildir_template,
        ]
        for account in self.accounts:
            flag = "--apop-account" if account.apop else "--account"
            command += [flag, f"{account.user}:{account.password}"]
        if self.tls:
            command += self._make_tls_material(self.root / "tls")
        if self.refuse_plaintext_auth:
            command.append("--refuse-plaintext-auth")
        command += self.extra_args
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p
        )
        # A file, not a pipe: nobody reads the child's stderr while it runs, and
        # a full pipe would block it.  It lives until stop(), hence no "with".
        self._stderr = tempfile.TemporaryFile(prefix="pop3-reference-stderr-")  # noqa: SIM115
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            cwd=REPO_ROOT,  # "-m" puts the cwd first on sys.path: make it this package's
        )
        try:
            self.host, self.port = self._wait_listening()
        except BaseException:
            self.stop()
            raise
        return self

    def _make_tls_material(self, directory: Path) -> list[str]:
        """A fresh CA and server certificate in ``directory``; the child's TLS arguments."""
        import trustme  # only TLS runs pay for importing cryptography

        directory.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA()
        issued = ca.issue_cert(TLS_HOSTNAME, "127.0.0.1")
        self.ca_pem = directory / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_pem))
        chain, key = directory / "server-chain.pem", directory / "server-key.pem"
        chain.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
        issued.private_key_pem.write_to_path(str(key))
        return ["--tls-cert", str(chain), "--tls-key", str(key), "--implicit-tls-port", "0"]

    def _wait_listening(self) -> tuple[str, int]:
        process = self._process
        if process is None or process.stdout is None:  # pragma: no cover - set by start()
            raise RuntimeError("embedded server not started")
        deadline = time.monotonic() + self.startup_timeout
        received = b""
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            # The implicit TLS line, if any, comes before the main one.
            while not any(
                line.startswith(LISTENING.encode()) for line in received.split(b"\n")[:-1]
            ):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(self._failure("did not start listening in time"))
                if not selector.select(left):
                    continue
                chunk = os.read(process.stdout.fileno(), 4096)
                if not chunk:
                    process.wait(timeout=STOP_GRACE)
                    raise RuntimeError(self._failure(f"exited with status {process.returncode}"))
                received += chunk
        address: tuple[str, int] | None = None
        for raw in received.split(b"\n")[:-1]:
            line = raw.decode("utf-8", "replace").strip()
            if line.startswith(IMPLICIT_TLS_LISTENING):
                self.tls_port = _parse_address(line[len(IMPLICIT_TLS_LISTENING) :])[1]
            elif line.startswith(LISTENING):
                address = _parse_address(line[len(LISTENING) :])
                break
            else:
                raise RuntimeError(self._failure(f"unexpected line {line!r}"))
        if address is None:  # pragma: no cover - the loop above waited for it
            raise RuntimeError(self._failure("no listening line"))
        if self.tls and not self.tls_port:
            raise RuntimeError(self._failure("did not report its implicit TLS port"))
        return address

    def _failure(self, what: str) -> str:
        return f"reference POP3 server {what}; its stderr:\n{self._stderr_text()}"

    def _stderr_text(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    def account(self, user: str) -> EmbeddedAccount:
        for account in self.accounts:
            if account.user == user:
                return account
        raise KeyError(user)

    def maildir(self, user: str) -> Path:
        return Path(self.maildir_template.replace(USER_PLACEHOLDER, user))

    @property
    def pid(self) -> int | None:
        """The server process's id while it runs (a benchmark keeps it off its own CPU)."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=STOP_GRACE)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            self.returncode = process.returncode
            if process.stdout is not None:
                process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._owns_root and self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self._owns_root = False

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _parse_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)
