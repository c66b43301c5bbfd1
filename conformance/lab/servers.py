"""Real POP3 servers started on loopback for the harness's own tests and for users.

Each lab server is driven by a shell script shipped in ``conformance/lab/scripts``
with one interface for all (see the script's header)::

    NAME.sh start DIR PORT | seed DIR USER FILE... | clear DIR USER | stop DIR

A start may also open the server's other ways in on loopback, for the
provisioners that go through the mail system: ``POP3LAB_LMTP_PORT`` (Dovecot,
Cyrus) and ``POP3LAB_IMAP_PORT`` (Dovecot) in the script's environment;
:meth:`LabServer.start` chooses their ports (``listeners=("lmtp", "imap")``)
and the instance records them (:attr:`LabInstance.listeners`).

TLS is always on where the server has it (Dovecot, Mailutils, Cyrus,
Courier): the start passes ``POP3LAB_TLS_PORT``, and the script offers STLS
on the POP3 port and implicit TLS on that one, with a certificate for
``localhost`` and 127.0.0.1 from a CA made for that instance alone; the
instance records the port and the CA (:attr:`LabInstance.tls_port`,
:attr:`LabInstance.tls_ca`), so that the harness verifies the certificate.
Where the server takes APOP (Dovecot, Mailutils, Cyrus, solid-pop3d), the
instance also has the APOP mailboxes of :data:`APOP_ACCOUNTS`, reached with
APOP only where the server can keep the two methods apart (RFC 1939 section
13; all but Cyrus).

The scripts need root: they chown mail to an unprivileged system user and
start daemons that drop privileges.  This module only wraps them: it chooses a
port, records what the instance is (address, accounts, where mail lives, the
master's pid) and hands out the seed/clear command lines for the harness's
``exec`` provisioner, which works for every lab server (a ``maildir:``
provisioner only for Dovecot).

The six servers themselves are in :mod:`conformance.lab.catalogue`.  Every
script records its master's pid in
``DIR/run/master.pid``; the master leads a session of its own, and that
session id finds all of the instance's processes (``procs.py``).  The four
unpacked ones share ``scripts/common.sh``.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import pwd
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from conformance.lab.ports import free_port
from conformance.lab.procs import LabProcess, read_stat, session_processes

SCRIPTS_DIR = Path(__file__).resolve().parent / "scripts"
# Where .ci/install-servers.sh unpacks the servers that apt cannot install
# beside Dovecot (the scripts read the same variable).
LAB_ROOT = Path(os.environ.get("POP3LAB_ROOT", "/opt/pop3lab"))

# The same four accounts exist on every lab server.
ACCOUNTS: tuple[tuple[str, str], ...] = (
    ("alice", "alicepw"),
    ("bob", "bobpw"),
    ("carol", "carolpw"),
    ("dave", "davepw"),
)

# The mailboxes reached with APOP, on the servers that take APOP (the
# password is the shared secret).
APOP_ACCOUNTS: tuple[tuple[str, str], ...] = (("erin", "erinpw"),)
# The name the lab's certificates are issued for (and 127.0.0.1).
TLS_SERVERNAME = "localhost"

# How often start() tries another port when the one it chose was taken meanwhile.
_PORT_TRIES = 3
# What the scripts (or the daemon they start) say when the port is taken.
_PORT_TAKEN = ("already accepts connections", "served by another process", "in use")
# Seconds a stop may take: Dovecot's master alone needs about 1 s to exit.
_STOP_TIMEOUT = 60.0


class LabError(RuntimeError):
    """A lab script failed; the message carries the script's own error output."""


@dataclass(frozen=True)
class LabServer:
    """A real POP3 server that the lab can install, start and stop."""

    name: str
    script: str  # file name in SCRIPTS_DIR
    executables: tuple[str, ...]  # absolute paths the server needs
    system_users: tuple[str, ...]  # accounts that must exist before the script runs
    # Where USER's Maildir is, relative to the instance root, for servers whose
    # mail a maildir provisioner can write directly (Dovecot); None for the
    # others, which are provisioned through seed_cmd()/clear_cmd() only.
    maildir: str | None = None
    tools: tuple[str, ...] = ()  # commands the script needs on PATH
    # The server has compiled-in paths (/var/mail, /etc/courier, ...), so each
    # instance runs in a private mount namespace (unshare -m).
    mount_namespace: bool = False
    # Other ways in the script can open (lmtp, imap) and the executables each needs.
    listeners: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Where the CA certificate of a started instance is, relative to its root,
    # for servers with TLS (STLS and implicit TLS); None: the server has none.
    tls_ca: str | None = None
    # The server takes APOP: instances have the APOP_ACCOUNTS mailboxes.
    apop: bool = False

    @property
    def script_path(self) -> Path:
        return SCRIPTS_DIR / self.script

    def available(self, listeners: Sequence[str] = ()) -> tuple[bool, str]:
        """(True, "") when start() can work here (with ``listeners``), else (False, why not)."""
        if not sys.platform.startswith("linux"):
            return False, f"the {self.name} lab needs Linux (found {sys.platform})"
        if os.geteuid() != 0:
            return False, f"the {self.name} lab script must run as root"
        if not self.script_path.is_file():
            return False, f"lab script {self.script_path} is missing"
        for tool in ("bash", "setpriv", "ss", "timeout", *self.tools):
            if shutil.which(tool) is None:
                return False, (
                    f"{tool} is not installed; install it with: .ci/install-servers.sh {self.name}"
                )
        unknown = [name for name in listeners if name not in self.listeners]
        if unknown:
            return False, f"{self.name} offers no {unknown[0]} listener in the lab"
        needed = [exe for name in listeners for exe in self.listeners[name]]
        for exe in (*self.executables, *needed):
            if not os.access(exe, os.X_OK):
                return False, (
                    f"{self.name} is not installed ({exe} missing); "
                    f"install it with: .ci/install-servers.sh {self.name}"
                )
        for user in self.system_users:
            try:
                pwd.getpwnam(user)
            except KeyError:
                return False, f"system user {user!r} that {self.name} needs does not exist"
        if self.mount_namespace and not _mount_namespaces_work():
            return False, f"{self.name} needs mount namespaces (unshare -m), refused here"
        return True, ""

    def start(
        self,
        root: Path,
        port: int | None = None,
        timeout: float = 30.0,
        listeners: Sequence[str] = (),
    ) -> LabInstance:
        """Start a fresh instance under `root` on 127.0.0.1:`port`.

        Returns once the port accepts connections.  With no port, a free one
        below 32768 is chosen, and chosen again if another process takes it
        first; so are the ports of ``listeners`` (lmtp, imap).  Raises
        LabError when the server is unavailable or fails.
        """
        ok, reason = self.available(listeners)
        if not ok:
            raise LabError(reason)
        root = Path(root).resolve()
        # The seed/clear templates are filled in with str.format-style
        # {user}/{file} fields; a brace in a fixed part would break them.
        for part in (str(root), str(self.script_path)):
            if "{" in part or "}" in part:
                raise LabError(f"path {part!r} contains a brace; choose another root")
        root.mkdir(parents=True, exist_ok=True)
        tries = 1 if port is not None else _PORT_TRIES
        # The implicit-TLS port is one more listener (POP3LAB_TLS_PORT).
        wanted = (*listeners, *(["tls"] if self.tls_ca is not None else []))
        for attempt in range(1, tries + 1):
            chosen = port if port is not None else free_port()
            extra = {name: free_port() for name in wanted}
            began = time.monotonic()
            result = self._run_start(root, chosen, timeout, extra)
            if result.returncode == 0:
                return self._instance(root, chosen, time.monotonic() - began, extra)
            taken = any(text in result.stderr for text in _PORT_TAKEN)
            if not (taken and attempt < tries):
                raise LabError(
                    f"{self.name} did not start on 127.0.0.1:{chosen} "
                    f"(exit {result.returncode}):\n{result.stderr.strip()}"
                )
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _run_start(
        self, root: Path, port: int, timeout: float, listeners: dict[str, int]
    ) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, POP3LAB_START_TIMEOUT=str(max(1, math.ceil(timeout))))
        if self.apop:
            env["POP3LAB_APOP"] = "1"  # Dovecot offers APOP only when asked
        for name, listener_port in listeners.items():
            env[f"POP3LAB_{name.upper()}_PORT"] = str(listener_port)
        argv = ["bash", str(self.script_path), "start", str(root), str(port)]
        try:
            # The script itself waits at most `timeout` for the port; the
            # margin covers its clean-up after a failed start.
            return subprocess.run(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout + 15.0,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            # The daemon may be up even though the script hung: stop it.
            _run_script(self.script_path, ["stop", str(root)], _STOP_TIMEOUT, check=False)
            raise LabError(f"{self.name} start timed out after {exc.timeout:.0f} s") from exc

    def _instance(
        self, root: Path, port: int, seconds: float, listeners: dict[str, int]
    ) -> LabInstance:
        pid_file = root / "run" / "master.pid"
        try:
            master = int(pid_file.read_text(encoding="ascii").split()[0])
        except (OSError, ValueError, IndexError) as exc:
            _run_script(self.script_path, ["stop", str(root)], _STOP_TIMEOUT, check=False)
            raise LabError(f"{self.name} started but left no usable {pid_file}") from exc
        stat = read_stat(master)
        if stat is None:
            raise LabError(f"{self.name} master {master} exited right after start")
        tls_ca = None if self.tls_ca is None else root / self.tls_ca
        if tls_ca is not None and not tls_ca.is_file():
            _run_script(self.script_path, ["stop", str(root)], _STOP_TIMEOUT, check=False)
            raise LabError(f"{self.name} started with TLS but left no CA certificate {tls_ca}")
        return LabInstance(
            server=self.name,
            host="127.0.0.1",
            port=port,
            accounts=list(ACCOUNTS),
            apop_accounts=list(APOP_ACCOUNTS) if self.apop else [],
            tls_ca=tls_ca,
            maildir_template=None if self.maildir is None else str(root / self.maildir),
            root=root,
            script=self.script_path,
            master=LabProcess(master, stat.start_ticks, stat.name),
            start_seconds=seconds,
            listeners=listeners,
        )


@dataclass(eq=False)
class LabInstance:
    """A running lab server; stop() ends it (also usable as a context manager)."""

    server: str
    host: str
    port: int
    accounts: list[tuple[str, str]]  # USER/PASS (and SASL) mailboxes
    # Where a provisioner may put Maildir files for {user} (None: the server
    # is provisioned through seed_cmd()/clear_cmd() only); files dropped into
    # its new/ must be owned by the owner of that directory (the mail user).
    maildir_template: str | None
    root: Path
    script: Path
    master: LabProcess  # as recorded at start
    start_seconds: float  # how long start() took
    # Other ways in, by name ("lmtp", "imap", "tls": implicit TLS): their ports on 127.0.0.1.
    listeners: dict[str, int] = field(default_factory=dict)
    apop_accounts: list[tuple[str, str]] = field(default_factory=list)  # reached with APOP
    # The CA that issued the server's certificate (None: no TLS); the
    # certificate names TLS_SERVERNAME and 127.0.0.1.
    tls_ca: Path | None = None
    _stopped: bool = field(default=False, init=False, repr=False)

    @property
    def tls_port(self) -> int | None:
        """The implicit-TLS port (RFC 8314) on the same host; STLS is on ``port``."""
        return self.listeners.get("tls")

    @property
    def tls_servername(self) -> str | None:
        """The name the server's certificate must carry (None: no TLS)."""
        return None if self.tls_ca is None else TLS_SERVERNAME

    @property
    def log_path(self) -> Path:
        """The server's own log: the first place to look when a login fails."""
        return self.root / "log" / f"{self.server}.log"

    def _template(self, action: str, *fields: str) -> str:
        fixed = shlex.join(["bash", str(self.script), action, str(self.root)])
        return " ".join([fixed, *fields])

    def seed_cmd(self) -> str:
        """Shell command template that appends message {file} to {user}'s mailbox.

        {user} and {file} stand as words of their own: fill them in with
        shell-quoted values (or split the template with shlex.split first and
        fill in each word).  Messages get POP3 numbers in the order seeded.
        """
        return self._template("seed", "{user}", "{file}")

    def clear_cmd(self) -> str:
        """Shell command template that empties {user}'s mailbox."""
        return self._template("clear", "{user}")

    def seed(self, user: str, *files: Path) -> None:
        """Append message files to `user`'s mailbox, in this order."""
        _run_script(self.script, ["seed", str(self.root), user, *map(str, files)], 60.0)

    def clear(self, user: str) -> None:
        """Remove every message from `user`'s mailbox."""
        _run_script(self.script, ["clear", str(self.root), user], 60.0)

    def processes(self) -> list[LabProcess]:
        """The instance's live processes: the master and all it started."""
        return session_processes(self.master.pid)

    def stop(self) -> None:
        """End the master and every process it started; a second call does nothing."""
        if self._stopped:
            return
        before = self.processes()
        _run_script(self.script, ["stop", str(self.root)], _STOP_TIMEOUT)
        # The script finds the master through its pid file; should that be gone
        # (root deleted under a running server), end the recorded processes here.
        left = [p for p in before if p.alive()]
        _end(left)
        still = [p for p in left if p.alive()]
        if still:
            raise LabError(f"{self.server} processes survived stop: {still}")
        self._stopped = True

    def __enter__(self) -> LabInstance:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@functools.cache
def _mount_namespaces_work() -> bool:
    """True if this process may make a private mount namespace (root in a container may not)."""
    try:
        done = subprocess.run(
            ["unshare", "-m", "true"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _end(procs: list[LabProcess], grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds, each process by its pid."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for proc in procs:
            if proc.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, sig)
        deadline = time.monotonic() + grace
        while any(p.alive() for p in procs) and time.monotonic() < deadline:
            time.sleep(0.05)


def _run_script(script: Path, args: list[str], timeout: float, *, check: bool = True) -> None:
    try:
        result = subprocess.run(
            ["bash", str(script), *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        if check:
            raise LabError(f"{script.name} {args[0]} timed out after {timeout:.0f} s") from exc
        return
    if check and result.returncode != 0:
        raise LabError(
            f"{script.name} {shlex.join(args)} failed (exit {result.returncode}):\n"
            f"{result.stderr.strip()}"
        )
