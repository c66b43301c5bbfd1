"""Targets: accounts, profiles and their errors, the account pool under concurrency."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from conformance.profile import load_profile
from conformance.provision import ExecProvisioner, MaildirProvisioner, NoProvisioner
from conformance.target import Account, AccountPool, Target, parse_account, secrets_of

# -- accounts -------------------------------------------------------------------------------


def test_parse_account_splits_at_the_first_colon() -> None:
    a = parse_account("alice:pa:ss:word")
    assert (a.user, a.password, a.disposable) == ("alice", "pa:ss:word", False)
    assert parse_account("bob:x", disposable=True).disposable


@pytest.mark.parametrize(
    ("spec", "message"),
    [("alicesecret", "no ':'"), (":secret", "user is empty"), ("alice:", "password of account")],
)
def test_parse_account_errors_never_show_the_password(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        parse_account(spec)
    assert "secret" not in str(info.value)


def test_account_repr_hides_the_password() -> None:
    assert "hunter2" not in repr(Account("alice", "hunter2"))


def test_target_describe_and_disposable_rule() -> None:
    accounts = [Account("alice", "pw1", disposable=True), Account("bob", "pw2")]
    t = Target("127.0.0.1", 1110, accounts, NoProvisioner())
    assert t.is_disposable(accounts[0]) and not t.is_disposable(accounts[1])
    d = t.describe()
    text = json.dumps(d)
    assert "pw1" not in text and "pw2" not in text
    assert d == {
        "host": "127.0.0.1",
        "port": 1110,
        "accounts": [
            {"user": "alice", "disposable": True, "apop": False},
            {"user": "bob", "disposable": False, "apop": False},
        ],
        "provisioner": "none",
        "provision": {"kind": "none"},
        "timeout": 10.0,
        "connect_timeout": 5.0,
        "calibrate": False,
        "tls_port": None,
        "tls_verify": True,
    }
    assert secrets_of(t) == ["pw1", "pw2"]
    # With a provisioner every mailbox is replaced before use: all disposable.
    p = Target("127.0.0.1", 110, accounts, MaildirProvisioner("/tmp/x/{user}"))
    assert all(p.is_disposable(a) for a in accounts)
    assert json.loads(json.dumps(p.describe()))["accounts"] == [
        {"user": "alice", "disposable": True, "apop": False},
        {"user": "bob", "disposable": True, "apop": False},
    ]


# -- profiles -------------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "target.toml"
    path.write_text(text)
    return path


FULL = """
[target]
host = "127.0.0.1"
port = 1110
timeout = 12.5
connect_timeout = 3

[[account]]
user = "alice"
password = "alicepw"
disposable = true

[[account]]
user = "bob"
password_env = "POP3_TEST_BOB_PW"

[provision]
kind = "maildir"
path = "mail/{user}/Maildir"
"""


def test_load_full_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POP3_TEST_BOB_PW", "bob:pw")
    t = load_profile(write(tmp_path, FULL))
    assert (t.host, t.port, t.timeout, t.connect_timeout) == ("127.0.0.1", 1110, 12.5, 3.0)
    assert [(a.user, a.password, a.disposable) for a in t.accounts] == [
        ("alice", "alicepw", True),
        ("bob", "bob:pw", False),
    ]
    assert isinstance(t.provisioner, MaildirProvisioner)
    # A relative path starts at the profile's folder.
    assert t.provisioner.path("bob") == tmp_path.resolve() / "mail" / "bob" / "Maildir"
    assert sorted(secrets_of(t)) == ["alicepw", "bob:pw"]


def test_load_minimal_profile_defaults(tmp_path: Path) -> None:
    t = load_profile(
        write(tmp_path, '[target]\nhost = "mail.test"\n[[account]]\nuser = "a"\npassword = "b"\n')
    )
    assert (t.port, t.timeout, t.connect_timeout) == (110, 10.0, 5.0)
    assert isinstance(t.provisioner, NoProvisioner)


def test_load_exec_and_mbox_profiles(tmp_path: Path) -> None:
    base = '[target]\nhost = "h"\n[[account]]\nuser = "a"\npassword = "b"\n'
    t = load_profile(
        write(
            tmp_path,
            base + '[provision]\nkind = "exec"\nseed = "doveadm save -u {user} -m INBOX {file}"\n'
            'clear = "doveadm expunge -u {user} mailbox INBOX all"\ntimeout = 30\n',
        )
    )
    assert isinstance(t.provisioner, ExecProvisioner)
    assert t.provisioner.timeout == 30.0
    assert t.provisioner.seed_cmd.startswith("doveadm save")
    t = load_profile(
        write(tmp_path, base + '[provision]\nkind = "mbox"\npath = "/var/mail/{user}"')
    )
    assert t.provisioner.kind == "mbox"
    t = load_profile(write(tmp_path, base + '[provision]\nkind = "none"\n'))
    assert not t.provisioner.available


BASE_ACCOUNT = '[[account]]\nuser = "a"\npassword = "b"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[target\n", "not valid TOML"),
        (BASE_ACCOUNT, r"a \[target\] table with host"),
        ("[target]\nport = 110\n" + BASE_ACCOUNT, r"\[target\] needs host"),
        ('[target]\nhost = "h"\nport = 70000\n' + BASE_ACCOUNT, "port must be an integer"),
        ('[target]\nhost = "h"\nport = "110"\n' + BASE_ACCOUNT, "port must be an integer"),
        (
            '[target]\nhost = "h"\ntimeout = 0\n' + BASE_ACCOUNT,
            "timeout must be a finite, positive",
        ),
        ('[target]\nhost = "h"\nhots = "x"\n' + BASE_ACCOUNT, "unknown key 'hots' in \\[target\\]"),
        ('[target]\nhost = "h"\n', r"at least one \[\[account\]\]"),
        ('[target]\nhost = "h"\n[[account]]\nuser = "a"\n', "exactly one of password"),
        (
            '[target]\nhost = "h"\n[[account]]\nuser = "a"\npasword = "b"\n',
            "unknown key 'pasword' in \\[\\[account\\]\\] #1",
        ),
        (
            '[target]\nhost = "h"\n[[account]]\nuser = "a"\npassword = "b"\npassword_env = "X"\n',
            "exactly one of password",
        ),
        (
            '[target]\nhost = "h"\n[[account]]\nuser = "a"\npassword_env = "POP3_TEST_UNSET_VAR"\n',
            "POP3_TEST_UNSET_VAR is not set",
        ),
        (
            '[target]\nhost = "h"\n[[account]]\nuser = "a"\npassword = "b"\ndisposable = "yes"\n',
            "disposable must be true or false",
        ),
        ('[target]\nhost = "h"\n' + BASE_ACCOUNT * 2, "account 'a' is listed twice"),
        ('[target]\nhost = "h"\naccount = 3\n', "unknown key 'account' in \\[target\\]"),
        ('[target]\nhost = "h"\n' + BASE_ACCOUNT + "[extra]\n", "unknown key 'extra'"),
        (
            '[target]\nhost = "h"\n' + BASE_ACCOUNT + '[provision]\nkind = "ftp"\n',
            r"\[provision\]: unknown provisioner 'ftp'",
        ),
        (
            '[target]\nhost = "h"\n' + BASE_ACCOUNT + '[provision]\nkind = "maildir"\n',
            r"\[provision\] needs path",
        ),
        (
            '[target]\nhost = "h"\n'
            + BASE_ACCOUNT
            + '[provision]\nkind = "maildir"\npath = "/x"\n',
            r"must contain \{user\}",
        ),
        (
            '[target]\nhost = "h"\n' + BASE_ACCOUNT + '[provision]\nkind = "exec"\nseed = "x"\n',
            r"\[provision\] needs clear",
        ),
        (
            '[target]\nhost = "h"\n' + BASE_ACCOUNT + '[provision]\nkind = "lmtp"\n',
            r"\[provision\] needs address",
        ),
        (
            '[target]\nhost = "h"\n'
            + BASE_ACCOUNT
            + '[provision]\nkind = "smtp"\naddress = "h:25"\nauth_user = "r"\n'
            + 'auth_password = "p"\nauth_password_env = "X"\n',
            "auth_password or auth_password_env, not both",
        ),
        (
            '[target]\nhost = "h"\n'
            + BASE_ACCOUNT
            + '[provision]\nkind = "smtp"\naddress = "h:25"\ntls = "always"\n',
            r"\[provision\]: bad TLS mode 'always'",
        ),
    ],
)
def test_profile_errors_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=message) as info:
        load_profile(path)
    assert str(info.value).startswith(f"{path}: ")


def test_profile_that_cannot_be_read(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ValueError, match=f"{missing}: cannot read the profile"):
        load_profile(missing)


def test_profile_errors_do_not_leak_passwords(tmp_path: Path) -> None:
    path = write(
        tmp_path, '[target]\nhost = "h"\n[[account]]\nuser = "a"\npassword = "s3cr3t"\nx=1'
    )
    with pytest.raises(ValueError) as info:
        load_profile(path)
    assert "s3cr3t" not in str(info.value)


# -- the account pool ---------------------------------------------------------------------------


def pool_of(n: int) -> tuple[list[Account], AccountPool]:
    accounts = [Account(f"u{i}", f"p{i}", disposable=i % 2 == 0) for i in range(n)]
    return accounts, AccountPool(accounts)


def test_lease_gives_distinct_accounts_in_order_and_returns_them() -> None:
    accounts, pool = pool_of(3)
    with pool.lease(2, timeout=1) as got:
        assert got == accounts[:2]
        assert pool.free() == 1
        with pool.lease(1, timeout=1) as more:
            assert more == [accounts[2]]
            assert pool.free() == 0
    assert pool.free() == 3


def test_lease_returns_accounts_after_an_exception() -> None:
    _, pool = pool_of(2)
    with pytest.raises(RuntimeError), pool.lease(2, timeout=1):
        raise RuntimeError("scenario crashed")
    assert pool.free() == 2


def test_lease_times_out() -> None:
    _, pool = pool_of(2)
    with pool.lease(2, timeout=1):
        start = time.monotonic()
        with (
            pytest.raises(TimeoutError, match=r"no 1 free accounts within 0\.2 s"),
            pool.lease(1, timeout=0.2),
        ):
            pass
        assert 0.15 <= time.monotonic() - start < 2
    assert pool.free() == 2


def test_impossible_leases_fail_at_once() -> None:
    _, pool = pool_of(2)
    with pytest.raises(ValueError, match="can never be served"), pool.lease(3, timeout=10):
        pass
    with pytest.raises(ValueError, match="at least one"), pool.lease(0, timeout=10):
        pass
    with (
        pytest.raises(ValueError, match="that qualify"),
        pool.lease(2, timeout=10, where=lambda a: a.disposable),
    ):
        pass


def test_lease_with_a_condition() -> None:
    accounts, pool = pool_of(4)
    with pool.lease(2, timeout=1, where=lambda a: a.disposable) as got:
        assert got == [accounts[0], accounts[2]]
        with pool.lease(2, timeout=1) as rest:
            assert rest == [accounts[1], accounts[3]]


def test_concurrent_leases_never_share_an_account() -> None:
    accounts, pool = pool_of(4)
    in_use: set[str] = set()
    guard = threading.Lock()
    errors: list[str] = []
    max_seen = [0]

    def worker(k: int) -> None:
        need = 1 + k % 2
        for _ in range(20):
            with pool.lease(need, timeout=10) as got:
                assert len(got) == need
                with guard:
                    for a in got:
                        if a.user in in_use:
                            errors.append(f"{a.user} leased twice")
                        in_use.add(a.user)
                    max_seen[0] = max(max_seen[0], len(in_use))
                time.sleep(0.001)
                with guard:
                    for a in got:
                        in_use.discard(a.user)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive()
    assert errors == []
    assert max_seen[0] >= 2  # leases really overlapped
    assert pool.free() == len(accounts)


def test_waiters_are_served_in_order() -> None:
    """A lease of two is not starved by a stream of leases of one."""
    _, pool = pool_of(2)
    order: list[str] = []
    first = pool.lease(1, timeout=5)
    first.__enter__()
    started = threading.Event()

    def big() -> None:
        started.set()
        with pool.lease(2, timeout=5):
            order.append("big")

    def small_one(name: str) -> None:
        with pool.lease(1, timeout=5):
            order.append(name)

    t_big = threading.Thread(target=big)
    t_big.start()
    started.wait(5)
    time.sleep(0.1)  # the big lease is queued first
    t_small = threading.Thread(target=small_one, args=("small",))
    t_small.start()
    time.sleep(0.1)
    # One account is free, but the small lease waits behind the big one.
    assert order == []
    first.__exit__(None, None, None)
    t_big.join(5)
    t_small.join(5)
    assert order == ["big", "small"]


def test_profile_reads_the_tls_settings(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        '[target]\nhost = "h"\ntls_port = 995\ntls_ca = "ca.pem"\ntls_servername = "mail"\n'
        '[[account]]\nuser = "a"\npassword = "b"\n',
        encoding="utf-8",
    )
    t = load_profile(path)
    assert (t.tls_port, t.tls_ca, t.tls_servername) == (995, "ca.pem", "mail")
    assert not t.tls_insecure


def test_profile_rejects_a_bad_tls_port(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        '[target]\nhost = "h"\ntls_port = 0\n[[account]]\nuser = "a"\npassword = "b"\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="tls_port"):
        load_profile(path)


def test_load_mail_system_profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POP3_TEST_RELAY_PW", "relay-secret")
    head = '[target]\nhost = "h"\ntls_ca = "ca.pem"\n' + BASE_ACCOUNT
    t = load_profile(
        write(
            tmp_path,
            head
            + '[provision]\nkind = "smtp"\naddress = "mx.example.org:587"\ntls = "starttls"\n'
            + 'recipient = "{user}@example.org"\nauth_user = "relay"\n'
            + 'auth_password_env = "POP3_TEST_RELAY_PW"\nwait = 45\n',
        )
    )
    assert t.calibrate  # mail through an MTA is judged as the server returns it
    assert t.provisioner.kind == "smtp" and t.provisioner.wait == 45.0
    assert t.provisioner.describe() == {
        "kind": "smtp",
        "deliverer": "smtp:mx.example.org:587",
        "tls": "starttls",
        "recipient": "{user}@example.org",
        "auth_user": "relay",
        "wait": 45.0,
    }
    assert "relay-secret" in secrets_of(t)
    assert "relay-secret" not in json.dumps(t.describe())
    # Clearing goes through the mail system: only declared accounts are disposable.
    assert not t.is_disposable(t.accounts[0])
    t = load_profile(
        write(tmp_path, head + '[provision]\nkind = "existing"\ndeliver = "lmtp:/run/lmtp"\n')
    )
    assert t.provisioner.describe()["deliverer"] == "lmtp:/run/lmtp"
    t = load_profile(write(tmp_path, head + '[provision]\nkind = "existing"\n'))
    assert t.provisioner.kind == "existing" and not t.provisioner.can_deliver


def test_the_readme_profile_examples_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Aiming it at a server", 1)[1].split("\n## ", 1)[0]
    blocks = section.split("```toml\n")[1:]
    monkeypatch.setenv("ALICE_PW", "alicepw")
    kinds = []
    for block in (b.split("```", 1)[0] for b in blocks):
        if "[target]" not in block:
            block = '[target]\nhost = "h"\n' + BASE_ACCOUNT + block
        kinds.append(load_profile(write(tmp_path, block)).provisioner.kind)
    assert kinds == ["lmtp", "existing", "maildir"]
