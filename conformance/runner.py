"""Carries one scenario's steps out against the target and grades them.

The runner owns the sessions, the mailbox models (one per leased account)
and the list of checks.  Grading itself lives in :mod:`conformance.verdicts`;
the expected answers come from :mod:`conformance.model`.  Steps are dispatched
through a table keyed by step type.
"""

from __future__ import annotations

import hashlib
import re
import ssl
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, NoReturn

from conformance.calibration import CalibrationError, calibrate, recalibrate
from conformance.catalog import section_of
from conformance.codec import Finding, Response
from conformance.drift import same_but_server_fields, seeded_names
from conformance.messages import corpus
from conformance.model import Discrepancy, Maildrop, SessionModel
from conformance.outcomes import Outcome, worst
from conformance.placeholders import PlaceholderError, apop_digest, expand
from conformance.probe import ServerProfile, apop_timestamp
from conformance.protocol import State, response_shape, split_command
from conformance.results import CheckResult, ScenarioResult
from conformance.scenario import steps as st
from conformance.target import Account, Target
from conformance.tls import TLSError, make_client_context
from conformance.transcript import Transcript
from conformance.transport import ConnectError, Session
from conformance.verdicts import broken, grade_check, make_check

TEARDOWN_TIMEOUT = 3.0
# Names in 'needs:' that the target's declaration satisfies, not CAPA.
IMPLICIT_TLS = "IMPLICIT-TLS"
TARGET_NEEDS = (IMPLICIT_TLS,)


class Abort(Exception):
    """Stop the scenario here; the outcome is already recorded as a check."""


@dataclass
class Snap:
    """A maildrop as one session saw it: what "unchanged" compares."""

    count: int
    size: int
    uids: list[str] | None
    hashes: list[str]
    contents: list[bytes]

    def describe(self) -> str:
        uids = "n/a" if self.uids is None else ",".join(self.uids)
        return f"{self.count} messages, {self.size} octets, UIDLs [{uids}], SHA-256 " + ",".join(
            h[:12] for h in self.hashes
        )


@dataclass
class LastAnswer:
    session: str
    line: str
    response: Response
    discrepancies: list[Discrepancy]
    # The requirement the model cites for this command ("S: model" checks it).
    model_requirement: str | None = None
    model_expected: str | None = None


@dataclass
class ScenarioRun:
    scenario: st.Scenario
    target: Target
    profile: ServerProfile
    accounts: Sequence[Account]
    on_finding: Callable[[Finding, str], None] = lambda f, s: None
    timeout: float = 10.0
    # -- state of the run ---------------------------------------------------
    transcript: Transcript = field(init=False)
    checks: list[CheckResult] = field(default_factory=list)
    sessions: dict[str, Session] = field(default_factory=dict)
    models: dict[str, SessionModel] = field(default_factory=dict)
    account_of: dict[str, int] = field(default_factory=dict)
    maildrops: dict[int, Maildrop] = field(default_factory=dict)
    snapshots: dict[str, Snap] = field(default_factory=dict)
    labels: set[str] = field(default_factory=set)
    raw_pending: dict[str, bytes] = field(default_factory=dict)
    current: str | None = None
    requirement: str = ""
    last: LastAnswer | None = None
    # The answer the last S: block judged: what 'body' steps inspect.
    judged: LastAnswer | None = None
    # Header-field names of the seeded messages: others are the server's own.
    seeded: frozenset[bytes] = frozenset()
    # Sessions that reached TRANSACTION, and accounts one of them has since
    # left: a server may have rewritten that mailbox's stored messages.
    logged_in: set[str] = field(default_factory=set)
    dirty: set[int] = field(default_factory=set)
    greetings: dict[str, str] = field(default_factory=dict)  # session -> its greeting line

    def __post_init__(self) -> None:
        secrets = [a.password for a in self.accounts]
        self.transcript = Transcript(secrets)
        self.requirement = self.scenario.requirements[0]
        if self.scenario.timeout is not None:
            self.timeout = self.scenario.timeout

    # -- entry point --------------------------------------------------------
    def execute(self) -> ScenarioResult:
        started = time.monotonic()
        reason = self._unsupported_reason()
        if reason:
            return self._result(Outcome.UNSUPPORTED, reason, started)
        try:
            self._provision()
            self._steps(self.scenario.steps)
        except Abort:
            pass
        except Exception as exc:  # the harness must never crash on a bad server
            self.checks.append(
                make_check(
                    self.requirement,
                    Outcome.ERROR,
                    "the scenario runs to its end",
                    f"harness error: {exc.__class__.__name__}: {exc}",
                    self.scenario.file,
                    traceback.format_exc(limit=4),
                )
            )
        finally:
            self._teardown()
        if not self.checks:
            self.checks.append(
                make_check(
                    self.requirement,
                    Outcome.ERROR,
                    "at least one check",
                    "none made",
                    self.scenario.file,
                    "a scenario that checks nothing is a defect",
                )
            )
        return self._result(worst([c.outcome for c in self.checks]), "", started)

    def _result(self, outcome: Outcome, reason: str, started: float) -> ScenarioResult:
        s = self.scenario
        if not reason and outcome is not Outcome.PASS:
            bad = [c for c in self.checks if c.outcome is outcome]
            if bad:
                detail = bad[0].note or bad[0].actual
                # Model discrepancies already start with their requirement ID.
                if not detail.startswith(bad[0].requirement):
                    detail = f"{bad[0].requirement}: {detail}"
                reason = detail.splitlines()[0] if detail else bad[0].requirement
        return ScenarioResult(
            id=s.id,
            title=s.title,
            file=s.file,
            section=section_of(s.requirements[0]),
            requirements=list(s.requirements),
            tags=list(s.tags),
            outcome=outcome,
            reason=reason,
            description=s.description,
            expectation=s.expectation,
            checks=self.checks,
            transcript=self.transcript.entries,
            duration_ms=(time.monotonic() - started) * 1000.0,
        )

    def _unsupported_reason(self) -> str:
        s = self.scenario
        # IMPLICIT-TLS is a fact about the target, not a CAPA name (RFC 8314):
        # the operator declares the port.
        if IMPLICIT_TLS in s.needs and self.target.tls_port is None:
            return "the target declares no implicit-TLS port (--tls-port)"
        missing = self.profile.missing([n for n in s.needs if n not in TARGET_NEEDS])
        if missing:
            return "the server does not advertise " + ", ".join(missing)
        if len(self.accounts) < s.accounts:
            if s.login == "apop":
                return (
                    f"needs {s.accounts} APOP account(s), the target declares "
                    f"{len(self.accounts)} (--apop-account, or apop = true in the profile)"
                )
            return f"needs {s.accounts} accounts, the target has {len(self.accounts)}"
        if s.mailbox != "none" and not self.target.provisioner.available:
            return f"needs known mailbox content ({s.mailbox}): {self.target.provisioner.reason}"
        # With EXPIRE 0 any RETR then QUIT may remove mail (RFC 2449 section
        # 6.7), so every scenario is destructive there.
        if s.destructive or self.profile.expire_zero:
            what = "destructive scenario" if s.destructive else "the server advertises EXPIRE 0"
            for account in self.accounts[: s.accounts]:
                if not self.target.is_disposable(account):
                    return (
                        f"{what}, and account {account.user!r} is not declared "
                        "disposable: the mail is left alone"
                    )
        return ""

    def _provision(self) -> None:
        if self.scenario.mailbox == "none":
            return
        messages = corpus(self.scenario.mailbox)
        self.seeded = seeded_names(m.data for m in messages)
        for index, account in enumerate(self.accounts[: self.scenario.accounts], start=1):
            self.target.provisioner.seed(account.user, messages)
            self.maildrops[index] = Maildrop(messages, server_fields=self.target.calibrate)
            if self.target.calibrate:
                try:
                    calibrate(
                        self.target, account, self.maildrops[index], self.profile, self.transcript
                    )
                except (CalibrationError, ConnectError) as exc:
                    self.checks.append(
                        make_check(
                            self.requirement,
                            Outcome.ERROR,
                            "the seeded messages can be read back before the scenario",
                            f"calibration failed: {exc}",
                            self.scenario.file,
                        )
                    )
                    raise Abort from exc

    # -- dispatch -----------------------------------------------------------
    def _steps(self, steps: Sequence[st.Step]) -> None:
        for step in steps:
            handler = self._handlers[type(step)]
            handler(self, step)

    def _where(self, step: st.Step) -> str:
        return str(step.where)

    def _name(self, session: str | None, step: st.Step) -> str:
        name = session or self.current
        if name is None:
            self._error(step, "no session is open")
        assert name is not None
        return name

    def _session(self, session: str | None, step: st.Step) -> Session:
        name = self._name(session, step)
        found = self.sessions.get(name)
        if found is None or not found.connected:
            self._error(step, f"session {name} is not connected")
        assert found is not None
        self.current = name
        return found

    def _error(self, step: st.Step, message: str) -> None:
        self.checks.append(
            make_check(self.requirement, Outcome.ERROR, "", message, self._where(step))
        )
        raise Abort

    # -- steps --------------------------------------------------------------
    def _open(self, step: st.Open, account: int = 1) -> Session:
        old = self.sessions.get(step.session)
        if old is not None and old.connected:
            old.abandon()
        port = self.target.port
        context: ssl.SSLContext | None = None
        if step.tls:
            if self.target.tls_port is None:
                self._error(
                    step, "'open NAME tls' needs the target's implicit-TLS port (--tls-port)"
                )
            assert self.target.tls_port is not None
            port, context = self.target.tls_port, self._tls_context()
        session = Session(
            step.session,
            self.target.host,
            port,
            self.transcript,
            timeout=self.timeout,
            connect_timeout=self.target.connect_timeout,
            tls=context,
            server_hostname=self.target.tls_servername,
        )
        self.sessions[step.session] = session
        self.current = step.session
        self.account_of[step.session] = account
        maildrop = self.maildrops.get(account)
        supports = (
            frozenset({"TOP", "UIDL"})
            if not self.profile.has_capa
            else frozenset(c for c in ("TOP", "UIDL") if self.profile.advertises(c))
        )
        if maildrop is not None:
            self.models[step.session] = maildrop.open_session(supports=supports)
        else:
            self.models.pop(step.session, None)
        try:
            greeting = session.connect()
        except ConnectError as exc:
            self._error(step, str(exc))
        except TLSError as exc:
            self._tls_failed(step, step.session, exc, optional=False)
        if step.tls:
            self._tls_done(step, session)
        self._passive(session, greeting)
        # An S: right after 'open' judges the greeting.
        self.last = LastAnswer(step.session, "", greeting, [])
        self.greetings[step.session] = greeting.status_line.rstrip(b"\r\n").decode("latin-1")
        if not greeting.ok:
            self.checks.append(
                make_check(
                    "RFC1939-3-2",
                    broken("RFC1939-3-2"),
                    "a positive one-line greeting",
                    greeting.describe(),
                    self._where(step),
                )
            )
            raise Abort
        return session

    def _login(self, step: st.Login, quiet: bool = False) -> bool:
        """USER/PASS (or APOP) with the account; True on success."""
        self._relearn(step.account, step.session)
        existing = self.sessions.get(step.session)
        if existing is None or not existing.connected or existing.state is not State.AUTHORIZATION:
            if existing is not None and existing.connected:
                self._teardown_session(step.session)
            self._open(st.Open(step.where, step.session), step.account)
        self.account_of[step.session] = step.account
        session = self.sessions[step.session]
        account = self.accounts[step.account - 1]
        if self.profile.logs_in_with_apop(account.apop):
            greeting = session.greeting.status_line.decode("latin-1") if session.greeting else ""
            digest = apop_digest(apop_timestamp(greeting) or "", account.password)
            response = self._command(session, f"APOP {account.user} {digest}")
        else:
            response = self._command(session, f"USER {account.user}")
            if response.ok:
                response = self._command(session, f"PASS {account.password}")
        if response.ok:
            return True
        if not quiet:
            self._error(
                step,
                f"login as {account.user!r} refused: {response.describe()} "
                "(check the credentials, or the server's lock)",
            )
        return False

    def _relearn(self, index: int, name: str) -> None:
        """Before a login: learn header fields the server added since a session ended.

        Only with calibration on, and only while no other session of this
        scenario holds the mailbox (a read needs the lock).
        """
        maildrop = self.maildrops.get(index)
        if not self.target.calibrate or index not in self.dirty or maildrop is None:
            return
        holders = [n for n in self.logged_in if n != name and self.account_of.get(n) == index]
        if holders:
            return
        learned = recalibrate(
            self.target,
            self.accounts[index - 1],
            maildrop,
            self.profile,
            self.transcript,
            self.seeded,
        )
        if learned is not None:
            self.dirty.discard(index)

    def _command(self, session: Session, line: str) -> Response:
        """Send a command, read its answer, and keep the model in step."""
        response = session.command(line)
        self._after_answer(session, line, response)
        return response

    def _after_answer(self, session: Session, line: str, response: Response) -> None:
        self._passive(session, response)
        model = self.models.get(session.label)
        discrepancies: list[Discrepancy] = []
        model_requirement = model_expected = None
        if model is not None:
            expectation = model.expect(line)
            model_requirement, model_expected = expectation.requirement, expectation.describe()
            discrepancies = model.check(line, response, expectation)
            model.apply(line, response)
            if (
                session.state is State.TRANSACTION
                and model.state is not State.TRANSACTION
                and response.kind != "closed"
            ):
                model.login()
        if session.state is State.TRANSACTION:
            self.logged_in.add(session.label)
        self.last = LastAnswer(
            session.label, line, response, discrepancies, model_requirement, model_expected
        )

    def _passive(self, session: Session, response: Response) -> None:
        for finding in response.findings:
            self.on_finding(finding, self.scenario.id)
        # RFC 1939 section 3: the next response starts right after the
        # terminator.  Only a multi-line response is judged: after a single
        # -ERR a server may say goodbye and close (section 4), and pipelined
        # raw input legitimately has answers queued behind.
        stray = session.stray_data()
        if stray and response.kind == "multi" and not self.raw_pending.get(session.label):
            self.on_finding(
                Finding(
                    "stray-data", "RFC1939-3-8", f"bytes after a complete response: {stray[:40]!r}"
                ),
                self.scenario.id,
            )

    def _use(self, step: st.Use) -> None:
        if step.session not in self.sessions:
            self._error(step, f"no session named {step.session}")
        self.current = step.session

    def _check(self, step: st.Check) -> None:
        self.requirement = step.requirement

    def _send(self, step: st.Send) -> None:
        session = self._session(step.session, step)
        if step.raw:
            self.raw_pending[session.label] = self.raw_pending.get(session.label, b"") + step.data
            session.send_raw(step.data)
            self.last = None
            return
        try:
            line = expand(
                step.text,
                self.accounts,
                self.models.get(session.label),
                self._session_values(session),
            )
        except PlaceholderError as exc:
            self._error(step, str(exc))
        self._command(session, line)

    def _session_values(self, session: Session) -> dict[str, str]:
        """What {apop} and {cram} are computed from: the greeting and the last challenge."""
        values: dict[str, str] = {}
        if session.greeting is not None:
            stamp = apop_timestamp(session.greeting.status_line.decode("latin-1"))
            if stamp:
                values["timestamp"] = stamp
        last = self.judged if self.last is None else self.last
        if (
            last is not None
            and last.session == session.label
            and last.response.kind == "continuation"
        ):
            values["challenge"] = (last.response.text or "").strip()
        return values

    def _read_after_raw(self, step: st.Expect) -> None:
        name = self._name(None, step)
        session = self._session(name, step)
        pending = self.raw_pending.get(name, b"")
        first, sep, rest = pending.partition(b"\n")
        line = first.rstrip(b"\r").decode("utf-8", errors="replace")
        self.raw_pending[name] = rest if sep else b""
        keyword, args = split_command(line)
        response = session.read_response(response_shape(session.state, keyword, bool(args)))
        session.advance(keyword, response)
        self._after_answer(session, line, response)

    def _expect(self, step: st.Expect) -> None:
        if self.last is None or self.last.session != self.current:
            if not self.raw_pending.get(self._name(None, step)):
                self._error(step, "S: has no command to answer (C: or raw: first)")
            self._read_after_raw(step)
        last = self.last
        assert last is not None
        model = self.models.get(last.session)
        words: list[list[str]] = []
        for alt in step.alternatives:
            try:
                words.append([expand(w, self.accounts, model) for w in alt.words])
            except PlaceholderError as exc:
                self._error(step, str(exc))
        check, matched = grade_check(
            req_id=self.requirement,
            alternatives=step.alternatives,
            response=last.response,
            expanded_words=words,
            model_discrepancies=lambda: last.discrepancies,
            model_requirement=last.model_requirement,
            model_expected=last.model_expected,
            capabilities=self.profile.capabilities,
            labels=self.labels,
            where=self._where(step),
        )
        self.checks.append(check)
        if matched is not None and matched.label:
            self.labels.add(matched.label)
        # An answer is judged once: a second S: block needs a new C:.
        self.judged = last
        self.last = None
        if last.response.kind == "closed":
            self._forget(last.session)

    def _end(self, step: st.End) -> None:
        name = self._name(step.session, step)
        session = self._session(name, step)
        if step.how == "quit":
            in_transaction = session.state is State.TRANSACTION
            req = "RFC1939-6.QUIT-1" if in_transaction else "RFC1939-4.QUIT-1"
            response = self._command(session, "QUIT")
            self.last = None
            self.checks.append(
                make_check(
                    req,
                    Outcome.PASS if response.ok else broken(req),
                    "+OK",
                    response.describe(),
                    self._where(step),
                )
            )
            if response.kind != "closed":
                closed = session.wait_closed(5.0)
                self.checks.append(
                    make_check(
                        "RFC1939-6.QUIT-3",
                        Outcome.PASS if closed else broken("RFC1939-6.QUIT-3"),
                        "the server closes the connection after QUIT",
                        "closed" if closed else "still open 5 s after QUIT",
                        self._where(step),
                    )
                )
            if session.tls_version and "RFC8314-3.4-1" in self.scenario.requirements:
                ragged = session.tls_closed_without_notify
                self.checks.append(
                    make_check(
                        "RFC8314-3.4-1",
                        broken("RFC8314-3.4-1") if ragged else Outcome.PASS,
                        "a TLS close_notify alert before the TCP close",
                        "a bare TCP close" if ragged else "close_notify, then the close",
                        self._where(step),
                    )
                )
            session.abandon()
            self._forget(name, dropped=False)
            return
        if step.how == "close":
            session.close()
        elif step.how == "reset":
            session.reset()
        elif step.how == "half-close":
            session.half_close()
        elif step.how == "mid-command":
            session.drop_mid_command()
        elif step.how == "mid-retr":
            session.drop_mid_retr(step.message or 1)
        self._forget(name)

    def _forget(self, name: str, dropped: bool = True) -> None:
        if name in self.logged_in:
            self.logged_in.discard(name)
            self.dirty.add(self.account_of.get(name, 1))
        session = self.sessions.pop(name, None)
        if session is not None:
            session.abandon()
        model = self.models.pop(name, None)
        if model is not None and dropped and model.state is State.TRANSACTION:
            model.drop()
        if self.last is not None and self.last.session == name:
            self.last = None

    def _expect_closed(self, step: st.ExpectClosed) -> None:
        name = self._name(step.session, step)
        session = self.sessions.get(name)
        closed = (
            True if session is None or not session.connected else session.wait_closed(step.within_s)
        )
        self.checks.append(
            make_check(
                self.requirement,
                Outcome.PASS if closed else broken(self.requirement),
                f"the server closes the connection within {step.within_s:g} s",
                "closed" if closed else "still open",
                self._where(step),
            )
        )
        if closed:
            self._forget(name)

    def _take_snapshot(self, session: Session, step: st.Step, judged: str | None = None) -> Snap:
        """STAT, LIST, UIDL and every RETR; a refusal is graded against ``judged``
        (the requirement in force for ``unchanged``) or else the command's own."""

        def reject(req: str, expected: str, resp: Response) -> NoReturn:
            self.checks.append(
                make_check(
                    judged or req,
                    broken(judged or req),
                    expected,
                    resp.describe(),
                    self._where(step),
                    "while taking a snapshot of the maildrop",
                )
            )
            raise Abort

        def need(resp: Response, req: str, what: str) -> Response:
            if not resp.ok:
                reject(req, f"+OK to {what}", resp)
            return resp

        stat = need(self._command(session, "STAT"), "RFC1939-5.STAT-1", "STAT")
        fields = stat.text.split()
        if len(fields) < 2 or not all(f.isascii() and f.isdigit() for f in fields[:2]):
            reject("RFC1939-5.STAT-1", "+OK nn mm", stat)
        count, size = int(fields[0]), int(fields[1])
        listing = need(self._command(session, "LIST"), "RFC1939-5.LIST-2", "LIST")
        numbers = []
        for line in listing.lines:
            # A malformed scan listing is the server's fault, not the harness's.
            first = line.split(b" ", 1)[0]
            if not first.isdigit():
                reject("RFC1939-5.LIST-4", "scan listings 'n size'", listing)
            numbers.append(int(first))
        uids: list[str] | None = None
        if not self.profile.has_capa or self.profile.advertises("UIDL"):
            uidl = self._command(session, "UIDL")
            if uidl.ok:
                uids = sorted(
                    line.split(b" ", 1)[1].decode("latin-1") for line in uidl.lines if b" " in line
                )
        hashes, contents = [], []
        for n in numbers:
            retr = need(self._command(session, f"RETR {n}"), "RFC1939-5.RETR-1", f"RETR {n}")
            contents.append(retr.payload)
            hashes.append(hashlib.sha256(retr.payload).hexdigest())
        self.last = None
        return Snap(count, size, uids, hashes, contents)

    def _snapshot(self, step: st.Snapshot) -> None:
        session = self._session(step.session, step)
        self.snapshots[step.name] = self._take_snapshot(session, step)

    def _unchanged(self, step: st.Unchanged) -> None:
        session = self._session(step.session, step)
        before = self.snapshots[step.since]
        after = self._take_snapshot(session, step, judged=self.requirement)
        differences = []
        if before.count != after.count:
            differences.append(f"count {before.count} -> {after.count}")
        if before.uids is not None and after.uids is not None and before.uids != after.uids:
            lost = sorted(set(before.uids) - set(after.uids))
            differences.append(f"UIDLs missing: {', '.join(lost) or 'none'}; set changed")
        if before.hashes != after.hashes:
            # Header fields the server adds to stored mail (Status, X-UIDL)
            # leave a message the same message; only other changes count.
            pairs = zip(before.contents, after.contents, strict=False)
            if before.count != after.count or not all(
                same_but_server_fields(old, new, self.seeded) for old, new in pairs
            ):
                differences.append("message contents (SHA-256) differ")
        self.checks.append(
            make_check(
                self.requirement,
                broken(self.requirement) if differences else Outcome.PASS,
                f"the maildrop as at snapshot {step.since!r}: {before.describe()}",
                after.describe() if not differences else "; ".join(differences),
                self._where(step),
            )
        )

    def _eventually(self, step: st.Eventually) -> None:
        deadline = time.monotonic() + step.within_s
        attempts = 0
        while True:
            attempts += 1
            saved = self.timeout
            self.timeout = max(1.0, min(saved, deadline - time.monotonic() + 1.0))
            try:
                ok = self._login(step.step, quiet=True)
            finally:
                self.timeout = saved
            if ok:
                self.checks.append(
                    make_check(
                        self.requirement,
                        Outcome.PASS,
                        f"a login succeeds within {step.within_s:g} s",
                        f"logged in after {attempts} attempt(s)",
                        self._where(step),
                    )
                )
                return
            self._teardown_session(step.step.session)
            if time.monotonic() >= deadline:
                self.checks.append(
                    make_check(
                        self.requirement,
                        broken(self.requirement),
                        f"a login succeeds within {step.within_s:g} s",
                        f"refused {attempts} time(s); last: {self._last_text()}",
                        self._where(step),
                    )
                )
                raise Abort
            time.sleep(0.2)

    def _last_text(self) -> str:
        return self.last.response.describe() if self.last else "no answer"

    def _sleep(self, step: st.Sleep) -> None:
        time.sleep(step.seconds)

    def _body(self, step: st.Body) -> None:
        judged = self.judged
        if judged is None or judged.session != self.current:
            self._error(step, "'body' has no judged answer to inspect (C: and S: first)")
        assert judged is not None
        response = judged.response
        wanted = {
            "has": f"a line matching /{step.pattern}/",
            "lacks": f"no line matching /{step.pattern}/",
            "all": f"every line matching /{step.pattern}/",
        }[step.mode]
        if response.kind != "multi" or not response.ok:
            # The S: check before has graded the status; lines there are none.
            self.checks.append(
                make_check(
                    self.requirement,
                    Outcome.INFO,
                    wanted,
                    f"no multi-line answer to inspect: {response.describe()}",
                    self._where(step),
                )
            )
            return
        lines = [ln.decode("utf-8", errors="replace") for ln in response.lines]
        if step.header_only and "" in lines:
            # The header block of the message: up to the first empty line.
            lines = lines[: lines.index("")]
        regex = re.compile(step.pattern)
        hits = [ln for ln in lines if regex.search(ln)]
        misses = [ln for ln in lines if not regex.search(ln)]
        if step.mode == "has":
            ok, shown = bool(hits), f"none of {len(lines)} lines matches"
        elif step.mode == "lacks":
            ok, shown = not hits, f"{len(hits)} matching: {hits[:3]!r}"
        else:
            ok, shown = not misses, f"{len(misses)} not matching: {misses[:3]!r}"
        actual = f"{len(lines)} lines" if ok else shown
        outcome = Outcome.PASS if ok else broken(self.requirement)
        self.checks.append(make_check(self.requirement, outcome, wanted, actual, self._where(step)))

    def _differ(self, step: st.Differ) -> None:
        stamps = []
        for name in (step.first, step.second):
            greeting = self.greetings.get(name, "")
            stamp = apop_timestamp(greeting)
            if stamp is None:
                self._error(step, f"session {name}'s greeting has no <timestamp>: {greeting!r}")
            stamps.append(stamp)
        same = stamps[0] == stamps[1]
        self.checks.append(
            make_check(
                self.requirement,
                broken(self.requirement) if same else Outcome.PASS,
                "a different timestamp in each greeting",
                f"{step.first}: {stamps[0]}, {step.second}: {stamps[1]}",
                self._where(step),
            )
        )

    def _read(self, step: st.Read) -> None:
        name = self._name(step.session, step)
        self._session(name, step)
        if not self.raw_pending.get(name):
            self._error(step, "'read' has no answer to wait for: no 'raw:' batch is pending")
        # The S: block that follows reads the next queued answer.
        self.last = None

    def _tls_context(self) -> ssl.SSLContext:
        return make_client_context(self.target.tls_ca, self.target.tls_insecure)

    def _starttls(self, step: st.StartTls) -> None:
        name = self._name(step.session, step)
        session = self._session(name, step)
        try:
            session.starttls(self._tls_context(), self.target.tls_servername)
        except TLSError as exc:
            self._tls_failed(step, name, exc, optional=step.optional)
        # A new layer: whatever was queued in the clear is not an answer now.
        self.raw_pending.pop(name, None)
        self.last = None
        self._tls_done(step, session)

    def _tls_done(self, step: st.Step, session: Session) -> None:
        """A completed handshake passes the current check; the suite in use is judged."""
        version = session.tls_version or "TLS"
        self.checks.append(
            make_check(
                self.requirement,
                Outcome.PASS,
                "a TLS handshake (TLS 1.2 or later) that completes",
                f"TLS established: {version}",
                self._where(step),
            )
        )
        if session.plaintext_after_stls:
            self.checks.append(
                make_check(
                    "RFC2595-4-4",
                    broken("RFC2595-4-4"),
                    "TLS starts right after the CRLF of the +OK",
                    f"{len(session.plaintext_after_stls)} octets followed in the clear: "
                    f"{session.plaintext_after_stls[:40]!r}",
                    self._where(step),
                )
            )
        if "RFC8314-4-5" in self.scenario.requirements:
            # RFC 7525 section 4.2: TLS 1.3 suites, or ECDHE with an AEAD cipher.
            recommended = version.startswith("TLSv1.3") or (
                "ECDHE" in version and ("GCM" in version or "CHACHA20" in version)
            )
            self.checks.append(
                make_check(
                    "RFC8314-4-5",
                    Outcome.PASS if recommended else broken("RFC8314-4-5"),
                    "a cipher suite RFC 7525 recommends",
                    version,
                    self._where(step),
                )
            )

    def _tls_failed(self, step: st.Step, name: str, exc: TLSError, *, optional: bool) -> NoReturn:
        if exc.kind == "verify":
            # The harness could not trust the certificate: the run's settings,
            # not the server, decide that (RFC 8314 section 4.4 is an operator's duty).
            outcome = Outcome.ERROR
            note = "give the CA (--tls-ca) or the name (--tls-servername), or --tls-insecure"
        elif optional:
            outcome, note = Outcome.INFO, "the handshake failed where the scenario allows it"
        else:
            outcome, note = broken(self.requirement), ""
        self.checks.append(
            make_check(
                self.requirement,
                outcome,
                "a TLS handshake (TLS 1.2 or later) that completes",
                f"TLS {exc.kind}: {exc}",
                self._where(step),
                note,
            )
        )
        self._forget(name)
        raise Abort

    def _when(self, step: st.When) -> None:
        cond = step.condition
        if cond.kind == "capa":
            held = self.profile.advertises(cond.name)
        else:
            held = cond.name in self.labels
        if held != cond.negate:
            self._steps(step.body)

    def _login_step(self, step: st.Login) -> None:
        self._login(step)

    def _open_step(self, step: st.Open) -> None:
        self._open(step)

    # -- teardown -----------------------------------------------------------
    def _teardown_session(self, name: str) -> None:
        """QUIT every session, without ever committing what the scenario did not."""
        session = self.sessions.get(name)
        if session is None:
            return
        if session.connected:
            try:
                if session.state is State.TRANSACTION and not self._safe_to_quit(session, name):
                    session.reset()
                elif session.connected and not session.closed_by_server:
                    session.command("QUIT", timeout=TEARDOWN_TIMEOUT)
            except Exception:  # a broken server must not break teardown
                pass
        self._forget(name, dropped=False)

    def _safe_to_quit(self, session: Session, name: str) -> bool:
        """Whether a teardown QUIT from TRANSACTION removes nothing.

        Marks are cleared with RSET first; if RSET is refused, a QUIT would
        commit them, so the connection is dropped instead.  A server that
        advertises EXPIRE 0 may remove every retrieved message at QUIT (RFC
        2449 section 6.7), so on an account that is not disposable teardown
        drops the connection rather than QUIT.
        """
        account = self.accounts[self.account_of.get(name, 1) - 1]
        if self.profile.expire_zero and not self.target.is_disposable(account):
            return False
        rset = session.command("RSET", timeout=TEARDOWN_TIMEOUT)
        return rset.ok

    def _teardown(self) -> None:
        for name in list(self.sessions):
            self._teardown_session(name)

    _handlers: ClassVar[dict[type, Callable[[Any, Any], None]]] = {
        st.Open: _open_step,
        st.Login: _login_step,
        st.Use: _use,
        st.Check: _check,
        st.Send: _send,
        st.Expect: _expect,
        st.End: _end,
        st.ExpectClosed: _expect_closed,
        st.Snapshot: _snapshot,
        st.Unchanged: _unchanged,
        st.Eventually: _eventually,
        st.Sleep: _sleep,
        st.When: _when,
        st.Body: _body,
        st.StartTls: _starttls,
        st.Read: _read,
        st.Differ: _differ,
    }
