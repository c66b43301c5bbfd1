"""The steps a scenario is made of: plain data, produced by the loader and
carried out by the runner.  Every step knows where it was written
(``file:line``) so that a verdict can point at it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Where:
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Condition:
    """``capa NAME`` or a label set by an earlier ``as LABEL``; ``negate`` for ``not``."""

    kind: str  # "capa" or "label"
    name: str
    negate: bool = False


@dataclass(frozen=True)
class Alternative:
    """One accepted (or explicitly rejected) behaviour of an ``S:`` line.

    ``form`` is one of "status", "regex", "model", "closed", "timeout", "any".
    For "status": ``status`` is "+OK" or "-ERR", ``code`` the response code
    without brackets (or None) and ``words`` the words the text must start
    with (placeholders not yet substituted).  For "regex": ``pattern``.
    """

    form: str
    where: Where
    status: str | None = None
    code: str | None = None
    words: tuple[str, ...] = ()
    pattern: str | None = None
    grade: str = "pass"  # pass, fail, non-strict, info
    label: str | None = None
    condition: Condition | None = None  # from "if capa NAME" / "if not capa NAME"
    note: str = ""


@dataclass(frozen=True)
class Step:
    where: Where


@dataclass(frozen=True)
class Open(Step):
    session: str
    tls: bool = False  # implicit TLS (RFC 8314): connect to the target's TLS port


@dataclass(frozen=True)
class StartTls(Step):
    """``tls [A] [optional]``: the TLS handshake after STLS was answered +OK (RFC 2595 section 4).

    A failed handshake grades like a broken current requirement, or ``info``
    with ``optional`` (the scenario then ends: the connection is unusable).
    """

    session: str | None
    optional: bool = False


@dataclass(frozen=True)
class Login(Step):
    session: str
    account: int = 1  # 1-based index into the leased accounts


@dataclass(frozen=True)
class Use(Step):
    session: str


@dataclass(frozen=True)
class Check(Step):
    requirement: str


@dataclass(frozen=True)
class Send(Step):
    """``C: LINE`` (raw=False) or ``raw: TEXT`` (raw=True, escapes already decoded)."""

    session: str | None  # None: the current session
    text: str  # for raw=False the command line; placeholders not substituted
    data: bytes = b""  # for raw=True
    raw: bool = False


@dataclass(frozen=True)
class Expect(Step):
    """One or more consecutive ``S:`` lines: the answer to the last Send."""

    alternatives: tuple[Alternative, ...]


@dataclass(frozen=True)
class End(Step):
    """quit / close / reset / half-close / drop mid-command / drop mid-retr N."""

    session: str | None
    how: str  # "quit", "close", "reset", "half-close", "mid-command", "mid-retr"
    message: int | None = None  # for mid-retr


@dataclass(frozen=True)
class ExpectClosed(Step):
    session: str | None
    within_s: float = 5.0


@dataclass(frozen=True)
class Snapshot(Step):
    session: str | None
    name: str


@dataclass(frozen=True)
class Unchanged(Step):
    session: str | None
    since: str


@dataclass(frozen=True)
class Eventually(Step):
    within_s: float
    step: Login


@dataclass(frozen=True)
class Sleep(Step):
    seconds: float


@dataclass(frozen=True)
class Differ(Step):
    """``timestamps differ A B``: the APOP timestamps of two sessions' greetings differ."""

    first: str
    second: str


@dataclass(frozen=True)
class Deliver(Step):
    """``deliver [A] NAME``: the corpus message NAME goes into the mailbox of session A's
    account, through the provisioner, after the messages there."""

    session: str | None
    message: str  # a corpus message's name, e.g. "m01-plain"


@dataclass(frozen=True)
class Read(Step):
    """``read [A]``: the S: lines that follow judge the next answer queued by a ``raw:`` batch."""

    session: str | None


@dataclass(frozen=True)
class Body(Step):
    """``body has|lacks|all /REGEX/``: judge the lines of the last multi-line answer.

    ``has``: some line matches; ``lacks``: no line does; ``all``: every line
    does (``re.search`` on each line without its CRLF, after un-stuffing).
    """

    mode: str
    pattern: str
    header_only: bool = False  # ``head ...``: only the lines before the first empty one


@dataclass(frozen=True)
class When(Step):
    condition: Condition
    body: tuple[Step, ...]


@dataclass
class Scenario:
    id: str
    title: str
    file: str
    requirements: list[str]
    tags: list[str] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)
    mailbox: str = "standard"  # standard, small, empty, utf8, none
    # What the checks rely on in the corpus beyond known messages (conformance.shapes).
    shapes: list[str] = field(default_factory=list)
    accounts: int = 1
    destructive: bool = False
    # Which accounts the scenario leases: "user" (USER/PASS mailboxes) or
    # "apop" (mailboxes the target declares as reached with APOP only).
    login: str = "user"
    timeout: float | None = None
    description: str = ""
    expectation: str = ""
    steps: list[Step] = field(default_factory=list)
