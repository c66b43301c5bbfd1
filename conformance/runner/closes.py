"""How each session of a scenario ended, judged apart from the scenario's checks.

Autobahn|Testsuite grades a case's closing behaviour separately from the
rest; so does this.  Each session ends one way: a clean QUIT (answered, then
closed by the server), a drop the scenario asked for (FIN, RST, half-close),
a close by the server, a timeout, or the harness's teardown.  The grade is
its own field of the result (``close``) and never changes the scenario's
outcome: the checks already judge what the server answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conformance.outcomes import Outcome, worst
from conformance.pop3 import IN_AUTHORIZATION, Answer

# how -> the grade of that ending
GRADES: dict[str, Outcome] = {
    "quit": Outcome.PASS,  # QUIT answered, then the server closed
    "dropped": Outcome.PASS,  # the scenario ended it: FIN, RST, half-close, a cut command
    "teardown": Outcome.PASS,  # the harness ended it after the last step
    "closed-after-err": Outcome.INFO,  # RFC 1939 section 4 lets a server close after -ERR
    "closed-by-server": Outcome.INFO,  # closed with no QUIT and no -ERR before
    "timeout": Outcome.INFO,  # the last answer never came
    "tls-failed": Outcome.INFO,  # the TLS handshake failed: the connection is unusable
    "quit-left-open": Outcome.FAIL,  # RFC1939-6.QUIT-3: the server must close after QUIT
}


@dataclass
class CloseLog:
    _last: dict[str, Answer] = field(default_factory=dict)
    _ends: dict[str, tuple[str, str]] = field(default_factory=dict)
    _reopened: dict[str, int] = field(default_factory=dict)  # name -> its last "#n"

    def saw(self, session: str, answer: Answer) -> None:
        self._last[session] = answer

    def ended(self, session: str, how: str, detail: str = "") -> None:
        """Record how ``session`` ended; a session's first ending is the one kept."""
        if how not in GRADES:
            raise ValueError(f"unknown ending {how!r}")
        self._ends.setdefault(session, (how, detail))

    def server_closed(self, session: str) -> None:
        """The server closed the connection while the scenario had not ended it."""
        last = self._last.get(session)
        if last is not None and last.response.err and last.before in IN_AUTHORIZATION:
            self.ended(session, "closed-after-err", f"after -ERR to {last.command.keyword}")
        elif last is not None and last.response.kind == "timeout":
            self.ended(session, "timeout", f"no answer to {last.command.keyword}")
        else:
            after = f" after {last.command.keyword}" if last is not None else ""
            self.ended(session, "closed-by-server", f"closed{after}")

    def reset(self, session: str) -> None:
        """A session name opened again: its earlier ending stays recorded under a new key."""
        if session in self._ends:
            # A counter, not a search for a free "#n": an exploration reopens a
            # session hundreds of times.
            n = self._reopened.get(session, 1) + 1
            self._reopened[session] = n
            self._ends[f"{session}#{n}"] = self._ends.pop(session)
        self._last.pop(session, None)

    def judge(self) -> dict[str, Any]:
        sessions = [
            {"session": name, "how": how, "outcome": GRADES[how].value, "detail": detail}
            for name, (how, detail) in self._ends.items()
        ]
        outcome = worst([GRADES[how] for how, _ in self._ends.values()])
        return {"outcome": outcome.value, "sessions": sessions}
