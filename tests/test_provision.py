"""Provisioners, in a temporary folder: order, names, times, quoting, commands."""

from __future__ import annotations

import mailbox
import os
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conformance.messages import Message, corpus
from conformance.provision import (
    MBOX_SEPARATOR,
    DeliveryOptions,
    ExecProvisioner,
    MaildirProvisioner,
    MboxProvisioner,
    NoProvisioner,
    ProvisionError,
    make_provisioner,
    mbox_entry,
)


def script(folder: Path, *lines: str) -> str:
    """A small Python program in a file, as a command prefix for a template."""
    path = folder / f"script{len(list(folder.glob('script*')))}.py"
    path.write_text("\n".join(lines) + "\n")
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(path))}"


def three() -> list[Message]:
    return corpus("small")


# -- make_provisioner ---------------------------------------------------------------------


def test_make_provisioner_kinds(tmp_path: Path) -> None:
    p = make_provisioner(f"maildir:{tmp_path}/{{user}}")
    assert isinstance(p, MaildirProvisioner) and (p.kind, p.available, p.reason) == (
        "maildir",
        True,
        "",
    )
    assert isinstance(make_provisioner(f"mbox:{tmp_path}/{{user}}"), MboxProvisioner)
    for spec in ("exec", "exec:"):
        e = make_provisioner(spec, seed_cmd="cp {file} /x/{user}", clear_cmd="true {user}")
        assert isinstance(e, ExecProvisioner) and e.kind == "exec"
    none = make_provisioner("none")
    assert isinstance(none, NoProvisioner)
    assert (none.kind, none.available) == ("none", False)
    assert none.reason == "no provisioner: the target's mailbox content is unknown"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("ftp:/x", "unknown provisioner 'ftp:/x'; accepted: lmtp:HOST:PORT, lmtp:/SOCKET"),
        ("maildir", "maildir needs a path template"),
        ("maildir:/srv/mail", "must contain {user}"),
        ("mbox:/var/mail/box", "must contain {user}"),
        ("exec", "exec needs both a seed command and a clear command"),
        ("exec:doveadm", "exec takes its commands from the seed and clear templates"),
    ],
)
def test_make_provisioner_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("{", r"\{").replace("}", r"\}")):
        make_provisioner(spec)


def test_exec_templates_need_their_placeholders() -> None:
    with pytest.raises(ValueError, match=r"seed command must contain \{file\}"):
        make_provisioner("exec", seed_cmd="cp x {user}", clear_cmd="rm {user}")
    with pytest.raises(ValueError, match=r"clear command must contain \{user\}"):
        make_provisioner("exec", seed_cmd="cp {file} {user}", clear_cmd="rm -f all")


def test_none_refuses_to_seed() -> None:
    with pytest.raises(ProvisionError, match="content is unknown"):
        NoProvisioner().seed("alice", three())
    with pytest.raises(ProvisionError):
        NoProvisioner().clear("alice")


# -- maildir ----------------------------------------------------------------------------------


def test_maildir_seed_order_names_and_mtimes(tmp_path: Path) -> None:
    p = MaildirProvisioner(str(tmp_path / "mail" / "{user}" / "Maildir"))
    ms = corpus("standard")
    p.seed("alice", ms)
    root = tmp_path / "mail" / "alice" / "Maildir"
    assert {d.name for d in root.iterdir()} == {"new", "cur", "tmp"}
    assert list((root / "tmp").iterdir()) == []
    files = sorted((root / "new").iterdir())
    assert [f.read_bytes() for f in files] == [m.as_lf() for m in ms]
    mtimes = [f.stat().st_mtime for f in files]
    assert mtimes == sorted(mtimes) and len(set(mtimes)) == len(mtimes)
    assert mtimes[-1] <= time.time()
    assert all(":" not in f.name for f in files)
    # The standard library's reader sees the same messages in the same order.
    box = mailbox.Maildir(str(root), create=False)
    assert [box.get_bytes(k) for k in sorted(box.iterkeys())] == [m.as_lf() for m in ms]


def test_maildir_seed_replaces_and_clear_empties(tmp_path: Path) -> None:
    p = make_provisioner(f"maildir:{tmp_path}/{{user}}")
    root = tmp_path / "bob"
    p.seed("bob", corpus("standard"))
    (root / "cur").mkdir(exist_ok=True)
    (root / "cur" / "123.old:2,S").write_bytes(b"old\n")
    (root / "dovecot-uidlist").write_text("3 V1 N4\n")
    p.seed("bob", three())
    assert sorted(f.read_bytes() for f in (root / "new").iterdir()) == sorted(
        m.as_lf() for m in three()
    )
    assert list((root / "cur").iterdir()) == []
    # Server index files outside new/cur/tmp stay (they keep uids from being reused).
    assert (root / "dovecot-uidlist").exists()
    p.clear("bob")
    assert all(list((root / d).iterdir()) == [] for d in ("new", "cur", "tmp"))
    p.clear("nobody-yet")  # clearing a mailbox that does not exist is fine
    p.seed("carol", [])
    assert list((tmp_path / "carol" / "new").iterdir()) == []


@pytest.mark.parametrize("user", ["", "..", "a/b", "."])
def test_user_names_cannot_escape_the_template(tmp_path: Path, user: str) -> None:
    p = MaildirProvisioner(str(tmp_path / "{user}"))
    with pytest.raises(ProvisionError, match="cannot be used in a mailbox path"):
        p.seed(user, three())


def test_maildir_errors_become_provision_errors(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    p = MaildirProvisioner(str(tmp_path / "file" / "{user}"))
    with pytest.raises(ProvisionError, match="cannot seed maildir"):
        p.seed("alice", three())


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can hand files to another owner")
def test_maildir_files_go_to_the_owner_of_the_mailbox(tmp_path: Path) -> None:
    import pwd

    other = pwd.getpwnam("nobody")
    parent = tmp_path / "alice"
    parent.mkdir()
    os.chown(parent, other.pw_uid, other.pw_gid)
    make_provisioner(f"maildir:{tmp_path}/{{user}}/Maildir").seed("alice", three())
    root = parent / "Maildir"
    for path in [root, root / "new", root / "cur", root / "tmp", *(root / "new").iterdir()]:
        assert (path.stat().st_uid, path.stat().st_gid) == (other.pw_uid, other.pw_gid), path
    # A mailbox we own ourselves stays ours.
    make_provisioner(f"maildir:{tmp_path}/mine/{{user}}").seed("alice", three())
    assert (tmp_path / "mine" / "alice" / "new").stat().st_uid == 0


# -- mbox -----------------------------------------------------------------------------------------


def test_mbox_entry_quotes_from_lines() -> None:
    m = Message(
        "from-lines",
        b"Subject: x\r\n\r\nFrom here\r\n>From there\r\n>>From far\r\nFromage\r\n> From not\r\n",
    )
    entry = mbox_entry(m)
    assert entry == (
        MBOX_SEPARATOR
        + b"Subject: x\n\n>From here\n>>From there\n>>>From far\nFromage\n> From not\n\n"
    )


def test_mbox_seed_and_clear(tmp_path: Path) -> None:
    p = make_provisioner(f"mbox:{tmp_path}/spool/{{user}}")
    ms = corpus("standard")
    p.seed("alice", ms)
    path = tmp_path / "spool" / "alice"
    raw = path.read_bytes()
    assert raw.startswith(b"From pop3-conformance@localhost Thu Jan  1 00:00:00 2026\n")
    assert raw.count(MBOX_SEPARATOR) == len(ms)
    assert b"\r" not in raw
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    # Python's mbox reader splits it back into the same messages, in order.
    box = mailbox.mbox(str(path), create=False)
    got = [box.get_bytes(k) for k in box.iterkeys()]
    assert [g.rstrip(b"\n") for g in got] == [m.as_lf().rstrip(b"\n") for m in ms]
    assert not (tmp_path / "spool" / "alice.lock").exists()
    p.seed("alice", three())
    assert path.read_bytes().count(MBOX_SEPARATOR) == 3
    inode = path.stat().st_ino
    p.clear("alice")
    assert path.read_bytes() == b""
    assert path.stat().st_ino == inode  # truncated in place


def test_mbox_waits_for_a_live_lock_and_removes_a_stale_one(tmp_path: Path) -> None:
    p = MboxProvisioner(str(tmp_path / "{user}"), timeout=0.3)
    lock = tmp_path / "alice.lock"
    lock.write_text(f"{os.getpid()}\n")  # held by a live process: us
    start = time.monotonic()
    with pytest.raises(ProvisionError, match=r"locked by pid \d+"):
        p.seed("alice", three())
    assert time.monotonic() - start >= 0.3
    # A lock released while we wait is taken.
    threading.Timer(0.1, lock.unlink).start()
    MboxProvisioner(str(tmp_path / "{user}"), timeout=5).seed("alice", three())
    assert (tmp_path / "alice").read_bytes().count(MBOX_SEPARATOR) == 3
    # A lock whose process is gone is stale.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    lock.write_text(f"{dead.pid}\n")
    p.clear("alice")
    assert (tmp_path / "alice").read_bytes() == b""
    assert not lock.exists()
    assert [f.name for f in tmp_path.iterdir()] == ["alice"]


# -- exec ------------------------------------------------------------------------------------------


def test_exec_runs_each_message_in_order(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    log = tmp_path / "log"
    # No shell: each template is one program with arguments.  Each call
    # overwrites the target, so the last message seeded is what remains.
    p = make_provisioner(
        "exec",
        seed_cmd=f"cp {{file}} {out}/{{user}}.eml",
        clear_cmd=f"rm -f {out}/{{user}}.eml",
    )
    p.seed("alice", three())
    assert (out / "alice.eml").read_bytes() == three()[-1].as_lf()
    p.clear("alice")
    assert not (out / "alice.eml").exists()
    seen = tmp_path / "seen"
    append = script(
        tmp_path,
        "import sys",
        'data = open(sys.argv[1], "rb").read()',
        'open(sys.argv[2], "ab").write(data + b"--" + sys.argv[3].encode() + b"\\n")',
    )
    q = ExecProvisioner(
        f"{append} {{file}} {shlex.quote(str(seen))} {{user}}",
        f"touch {shlex.quote(str(log))}-{{user}}",
    )
    q.seed("bob smith", corpus("standard"))
    assert (tmp_path / "log-bob smith").exists()  # the user stays one argument
    parts = seen.read_bytes().split(b"--bob smith\n")
    assert parts[:-1] == [m.as_lf() for m in corpus("standard")]


def test_exec_failures(tmp_path: Path) -> None:
    boom = script(
        tmp_path, "import sys", 'sys.stderr.write("boom: no such user\\n")', "sys.exit(3)"
    )
    failing = ExecProvisioner(f"{boom} {{user}} {{file}}", "true {user}")
    with pytest.raises(ProvisionError, match="exit status 3: boom: no such user"):
        failing.seed("alice", three())
    missing = ExecProvisioner("/no/such/tool {user} {file}", "true {user}")
    missing.clear("alice")  # the clear command exists
    with pytest.raises(ProvisionError, match=r"/no/such/tool.*command not found"):
        missing.seed("alice", three())
    nap = f"{sys.executable} -c 'import time; time.sleep(5)'"
    slow = ExecProvisioner(nap + " {user} {file}", nap + " {user}", timeout=0.2)
    start = time.monotonic()
    with pytest.raises(ProvisionError, match=r"no result within 0.2 s"):
        slow.clear("alice")
    assert time.monotonic() - start < 4


def test_exec_temp_files_are_removed_and_readable(tmp_path: Path) -> None:
    record = tmp_path / "record"
    note = script(
        tmp_path,
        "import os, sys",
        "mode = oct(os.stat(sys.argv[1]).st_mode & 0o777)",
        'open(sys.argv[2], "a").write(sys.argv[1] + " " + mode + "\\n")',
    )
    p = ExecProvisioner(f"{note} {{file}} {shlex.quote(str(record))} {{user}}", "true {user}")
    p.seed("alice", three())
    lines = record.read_text().splitlines()
    assert len(lines) == 3
    files = [line.split()[0] for line in lines]
    assert all(line.endswith("0o644") for line in lines)
    assert files == sorted(files)
    assert not any(Path(f).exists() for f in files)


# -- deliver: one message after those there -----------------------------------------------


def test_maildir_delivers_after_the_seeded_messages(tmp_path: Path) -> None:
    p = MaildirProvisioner(str(tmp_path / "{user}"))
    ms = corpus("standard")
    p.seed("alice", ms)
    p.deliver("alice", three()[0])
    p.deliver("alice", three()[1])
    files = sorted((tmp_path / "alice" / "new").iterdir())
    assert [f.read_bytes() for f in files] == [m.as_lf() for m in [*ms, *three()[:2]]]
    mtimes = [f.stat().st_mtime for f in files]
    assert mtimes == sorted(mtimes)


def test_mbox_delivers_by_appending_under_the_lock(tmp_path: Path) -> None:
    p = MboxProvisioner(str(tmp_path / "{user}"))
    p.seed("alice", three()[:2])
    p.deliver("alice", three()[2])
    assert (tmp_path / "alice").read_bytes() == b"".join(mbox_entry(m) for m in three())
    assert not (tmp_path / "alice.lock").exists()
    p.deliver("new-user", three()[0])  # a mailbox that does not exist yet is made
    assert (tmp_path / "new-user").read_bytes() == mbox_entry(three()[0])


def test_exec_delivers_with_the_seed_command_and_clears_nothing(tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    cleared = tmp_path / "cleared"
    append = script(
        tmp_path,
        "import sys",
        'open(sys.argv[2], "ab").write(open(sys.argv[1], "rb").read())',
    )
    p = ExecProvisioner(
        f"{append} {{file}} {shlex.quote(str(seen))} {{user}}",
        f"touch {shlex.quote(str(cleared))}-{{user}}",
    )
    p.deliver("alice", three()[1])
    assert seen.read_bytes() == three()[1].as_lf()
    assert not (tmp_path / "cleared-alice").exists()


def test_none_cannot_deliver() -> None:
    none = NoProvisioner()
    assert not none.can_deliver
    with pytest.raises(ProvisionError, match="content is unknown"):
        none.deliver("alice", three()[0])


@pytest.mark.parametrize(
    ("spec", "kind", "deliverer"),
    [
        ("lmtp:127.0.0.1:2424", "lmtp", "lmtp:127.0.0.1:2424"),
        ("lmtp:/run/dovecot/lmtp", "lmtp", "lmtp:/run/dovecot/lmtp"),
        ("lmtp:mail.example.org", "lmtp", "lmtp:mail.example.org:24"),
        ("smtp:[::1]:2525", "smtp", "smtp:[::1]:2525"),
        ("imap:127.0.0.1:1143", "imap", "imap:127.0.0.1:1143"),
        ("existing:imap:127.0.0.1:1143", "existing", "imap:127.0.0.1:1143"),
    ],
)
def test_mail_system_specs(spec: str, kind: str, deliverer: str) -> None:
    p = make_provisioner(spec)
    assert p.kind == kind
    assert p.describe()["deliverer"] == deliverer
    # They go through the server's delivery and never own its store.
    assert p.rewrites and not p.owns_store and p.can_deliver


@pytest.mark.parametrize(
    ("spec", "delivery", "message"),
    [
        ("lmtp:", {}, "lmtp needs an address"),
        ("smtp:/run/socket", {}, "only lmtp takes a Unix socket path"),
        ("imap:host:99999", {}, "bad port '99999'"),
        ("lmtp:host:24", {"tls": "implicit"}, "lmtp has no implicit TLS"),
        ("lmtp:host:24", {"recipient": "everyone@example.org"}, "must contain {user}"),
        ("smtp:host:25", {"auth_user": "relay"}, "needs both a user and a password"),
        ("imap:host:143", {"auth_user": "x", "auth_password": "y"}, "SMTP AUTH does not apply"),
        ("existing:ftp:host", {}, "unknown deliverer 'ftp:host'"),
        ("lmtp:host:24", {"tls": "sometimes"}, "bad TLS mode 'sometimes'"),
    ],
)
def test_mail_system_spec_errors(spec: str, delivery: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("{", r"\{").replace("}", r"\}")):
        make_provisioner(spec, delivery=DeliveryOptions(**delivery))  # type: ignore[arg-type]


def test_existing_alone_never_seeds_clears_or_delivers() -> None:
    p = make_provisioner("existing")
    assert p.available and not p.can_deliver and not p.owns_store
    for act in (
        lambda: p.seed("a", three()),
        lambda: p.clear("a"),
        lambda: p.deliver("a", three()[0]),
    ):
        with pytest.raises(ProvisionError, match="existing"):
            act()
