"""The shell's loop: a line in, the server's answer and the harness's judgement out.

Each line is a POP3 command for the current session (placeholders such as
``{user}`` expanded first) or a meta-command (``:open``, ``:raw`` ...,
see :mod:`conformance.shell.meta`).  Lines starting with ``#`` and empty
lines do nothing.  Every answer is judged, printed and, with ``--record``,
written as a scenario step.

The exit status: 0 when every answer was right, 1 when one was wrong; in the
non-interactive mode, 2 when a line could not be carried out at all (a
typo in a script must not pass as a clean run).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from conformance.cli_common import EXIT_FAIL, EXIT_OK, EXIT_USAGE
from conformance.placeholders import PlaceholderError, expand
from conformance.pop3 import LocalProtocolError, State
from conformance.scenario.errors import ScenarioError
from conformance.scenario.escapes import decode_escapes
from conformance.shell import meta
from conformance.shell.credentials import shown
from conformance.shell.judge import Judgement
from conformance.shell.recorder import Recorder
from conformance.shell.render import Renderer
from conformance.shell.sessions import Sessions, ShellError
from conformance.target import Account
from conformance.transport import ConnectError


class Leave(Exception):
    """``:quit``."""


@dataclass
class Shell:
    sessions: Sessions
    render: Renderer
    accounts: Sequence[Account]
    recorder: Recorder | None = None
    interactive: bool = True
    lines_read: int = 0
    answers: int = 0
    wrong: int = 0
    refused: int = 0  # lines the shell could not carry out

    # -- the loop -------------------------------------------------------------
    def prompt(self) -> str:
        current = self.sessions.current
        if current is None:
            return "pop3> "
        return f"{current} {self.sessions.by_name[current].state.value}> "

    def handle(self, line: str) -> bool:
        """Carry out one line; False when the shell should end."""
        self.lines_read += 1
        where = f"shell:{self.lines_read}"
        if not self.interactive:
            current = self.sessions.by_name.get(self.sessions.current or "")
            in_sasl = current is not None and current.in_sasl
            self.render.emit(self.prompt() + shown(line, in_sasl, self.render.secrets))
        if not line.strip() or line.lstrip().startswith("#"):
            return True
        try:
            if line.startswith(meta.PREFIX):
                self.meta(line, where)
            else:
                self.command(line, where)
        except Leave:
            return False
        except (ShellError, ConnectError, LocalProtocolError) as exc:
            self.refused += 1
            self.render.problem(str(exc))
        except KeyboardInterrupt:
            # Ctrl-C while an answer was awaited: what arrives later would be misread.
            self.render.problem("interrupted")
            if self.sessions.current is not None:
                self.end("reset", self.sessions.current)
        return True

    def finish(self) -> int:
        for said in self.sessions.close_all():
            self.render.note(said)
        if self.recorder is not None:
            try:
                self.render.note(f"recorded as {self.recorder.write()}")
            except ScenarioError as exc:
                self.render.problem(f"the recording was written but does not load: {exc}")
        right = self.answers - self.wrong
        self.render.emit(f"{self.answers} answers judged: {right} right, {self.wrong} wrong")
        if self.wrong:
            return EXIT_FAIL
        return EXIT_USAGE if self.refused and not self.interactive else EXIT_OK

    # -- POP3 -------------------------------------------------------------------
    def command(self, text: str, where: str) -> None:
        s = self.sessions.get()
        # {count}, {size:N}, {uid:N} ...: the mailbox as this session sees it, after login.
        logged_in = s.account is not None and s.state is State.TRANSACTION
        values = s.values()
        try:
            line = expand(text, self.accounts, s.model if logged_in else None, values)
        except PlaceholderError as exc:
            raise ShellError(str(exc)) from exc
        except KeyError as exc:
            raise ShellError(f"no message {exc} in this session") from exc
        in_sasl, tls_before = s.in_sasl, s.session.tls_version
        judged = self.sessions.send(line, where)
        self.show(judged)
        if self.recorder is not None:
            self.recorder.command(s.name, line, in_sasl, values, judged)
            if s.name in self.sessions.by_name and s.session.tls_version != tls_before:
                self.recorder.tls(s.name)

    def show(self, judged: Judgement) -> None:
        self.answers += 1
        self.wrong += bool(judged.wrong)
        self.render.judgement(judged)

    # -- meta-commands ------------------------------------------------------------
    def meta(self, line: str, where: str) -> None:
        found, name, args = meta.parse(line)
        if found is None:
            raise ShellError(f"unknown meta-command ':{name}' (':help' lists them)")
        if found.name == "quit":
            raise Leave
        if found.name == "raw":
            self.raw(line[len(":raw") :].removeprefix(" "), where)
        elif found.name == "help":
            self.help(args)
        elif len(args) > 1 or (found.name == "use" and not args):
            raise ShellError(f"usage: {found.usage}")
        elif found.name == "open":
            self.open(args[0] if args else self.sessions.next_name(), where)
        elif found.name == "use":
            self.sessions.use(args[0])
        elif found.name == "state":
            self.state(args[0] if args else None)
        else:
            self.end(found.name, self.sessions.get(args[0] if args else None).name)

    def end(self, how: str, name: str) -> None:
        self.render.note(self.sessions.end(how, name))
        if self.recorder is not None:
            self.recorder.ended(name, how)

    def open(self, name: str, where: str) -> None:
        if not meta.SESSION_NAME.fullmatch(name):
            raise ShellError(f"bad session name {name!r}: a letter, then letters, digits or '_'")
        target = self.sessions.target
        self.render.note(f"session {name}: connecting to {target.host}:{target.port}")
        _, judged = self.sessions.open(name, where)
        self.show(judged)
        if self.recorder is not None:
            self.recorder.opened(name, judged)

    def raw(self, text: str, where: str) -> None:
        try:
            data = decode_escapes(text)
        except ValueError as exc:
            raise ShellError(str(exc)) from exc
        if not data:
            raise ShellError(r"':raw' sends nothing (end a command with \r\n)")
        s = self.sessions.get()
        in_sasl = s.in_sasl
        judged = self.sessions.send_raw(data, where)
        for judgement in judged:
            self.show(judgement)
        if not judged:
            self.render.note("sent; no line was ended, so no answer is due yet")
        if self.recorder is not None:
            self.recorder.raw(s.name, text, in_sasl, judged)

    def help(self, args: list[str]) -> None:
        current = self.sessions.by_name.get(self.sessions.current or "")
        lines = meta.help_lines(args[0] if args else None, current.state if current else None)
        for line in lines:
            self.render.emit(line)

    def state(self, name: str | None) -> None:
        s = self.sessions.get(name)
        others = ", ".join(f"{n} ({o.state.value})" for n, o in self.sessions.by_name.items())
        logged_in = s.state is State.TRANSACTION and s.login_name
        login = f", logged in as {s.login_name}" if logged_in else ""
        self.render.block(
            f"session {s.name}: {s.state.value}{login}",
            [*meta.model_lines(s.model if s.account is not None else None), f"open: {others}"],
        )
