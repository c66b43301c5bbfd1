"""A scriptable misbehaving POP3 server, for the hostile-server tests (issue 12, part 10).

Most modes are one small transformation on top of a conforming server: a
proxy in front of the embedded reference server forwards every client byte
as it is and hands each server answer, framed (status line and, for a
multi-line answer, its body), to the mode, which sends it on, rewritten, cut
or never ended.  The reference server keeps its accounts and maildirs, so a
mode runs with seeded content (the harness provisions the reference server's
maildirs) or without.  Three modes need no server behind them: ``silent``,
``never-accept`` and ``http-greeting``.

Every mode is chosen by name, with parameters::

    with serving(make_mode("trickle", delay="0.2")) as (reference, hostile):
        ...  # a client on 127.0.0.1:hostile.port meets the mode

or from a shell (it prints the harness command that judges it)::

    python -m tests.hostile.server long-line size=20000000 [--content]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from conformance.pop3.spec import spec_for
from conformance.pop3.states import Shape
from conformance.server.embedded import EmbeddedServer
from tests.scripted import ScriptedServer, rst

CRLF: Final = b"\r\n"
# What the reference server answers at once, before the line end, when a
# command line grows this long (conformance.server.session.MAX_COMMAND).
COMMAND_LIMIT: Final = 255
# How much of each client line is kept to tell which command an answer is for.
KEPT: Final = 1024
READ_SIZE: Final = 65536


def keyword(command: bytes) -> str:
    return command.split(b" ", 1)[0].strip().decode("ascii", "replace").upper()


def expects_multiline(command: bytes) -> bool:
    """Whether a positive answer to ``command`` has a body (RETR, CAPA, LIST without argument)."""
    spec = spec_for(keyword(command))
    if spec is None:
        return False
    has_argument = len(command.strip().split()) > 1
    return spec.shape is Shape.MULTI or (spec.shape is Shape.MULTI_IF_NO_ARG and not has_argument)


@dataclass
class Answer:
    """One answer of the reference server: its status line and, if multi-line, its body."""

    status: bytes  # with its CRLF
    body: list[bytes] | None = None  # lines as on the wire (dot-stuffed, with CRLF)

    @property
    def positive(self) -> bool:
        return self.status.startswith(b"+OK")

    def wire(self) -> bytes:
        if self.body is None:
            return self.status
        return self.status + b"".join(self.body) + b"." + CRLF


def with_text(status: bytes, extra: bytes) -> bytes:
    """``status`` with ``extra`` appended to its text."""
    return status.rstrip(CRLF) + b" " + extra + CRLF


class Link:
    """One client connection, and the reference server connection behind it.

    Two threads: one forwards the client's bytes (noting each line, so that an
    answer is matched to its command), one frames the server's answers and
    gives them to the mode.  Either end closing closes both.
    """

    def __init__(self, mode: Mode, client: socket.socket) -> None:
        self.mode = mode
        self.client = client
        self.upstream: socket.socket | None = None
        self.closed = threading.Event()
        self._lock = threading.Lock()
        self._commands: deque[bytes] = deque()
        self._partial = b""
        self._partial_length = 0
        self._owed = 0  # lines answered before their line end came

    def serve(self, upstream: tuple[str, int] | None) -> None:
        self.client.settimeout(None)
        try:
            if upstream is None:
                self.mode.serve(self)
                return
            self.upstream = socket.create_connection(upstream, timeout=10)
            self.upstream.settimeout(None)
            forward = threading.Thread(target=self._guarded, args=(self._forward,), daemon=True)
            forward.start()
            self._guarded(self._answer)
            forward.join()
        finally:
            self.close()

    def _guarded(self, work: Callable[[], None]) -> None:
        try:
            work()
        except (OSError, ValueError):
            pass  # a socket closed under the thread: the link is over
        finally:
            self.close()

    # -- the client's side --------------------------------------------------

    def _forward(self) -> None:
        assert self.upstream is not None
        while chunk := self.client.recv(READ_SIZE):
            self._note(chunk)  # before sending: an answer never comes before its command
            self.upstream.sendall(chunk)
        self.upstream.shutdown(socket.SHUT_WR)  # a half-close stays a half-close

    def _note(self, chunk: bytes) -> None:
        with self._lock:
            for piece in chunk.split(b"\n")[:-1]:
                line = (self._partial + piece)[:KEPT]
                self._partial, self._partial_length = b"", 0
                if self._owed:
                    self._owed -= 1  # the rest of a line the server refused early
                else:
                    self._commands.append(line.rstrip(b"\r"))
            tail = chunk.rsplit(b"\n", 1)[-1]
            self._partial = (self._partial + tail)[:KEPT]
            self._partial_length += len(tail)

    def _command_for_answer(self) -> bytes:
        with self._lock:
            if self._commands:
                return self._commands.popleft()
            if self._partial_length >= COMMAND_LIMIT:
                self._owed += 1  # answered before its line end
            return b""

    # -- the server's side --------------------------------------------------

    def _answer(self) -> None:
        assert self.upstream is not None
        with self.upstream.makefile("rb") as server:
            greeting = server.readline()
            if not greeting:
                return
            self.mode.greeting(self, greeting)
            while status := server.readline():
                command = self._command_for_answer()
                answer = Answer(status)
                if answer.positive and expects_multiline(command):
                    answer.body = []
                    while (line := server.readline()) not in (b"." + CRLF, b""):
                        answer.body.append(line)
                self.mode.answer(self, command, answer)

    # -- what modes use -----------------------------------------------------

    def send(self, data: bytes) -> None:
        self.client.sendall(data)

    def close(self) -> None:
        with self._lock:
            if self.closed.is_set():
                return
            self.closed.set()
        _drop(self.client)
        _drop(self.upstream)

    def reset(self) -> None:
        """Close the client's connection with an RST."""
        with self._lock:
            self.closed.set()
        with contextlib.suppress(OSError):
            # Wake the thread blocked in recv() first: until it lets go of the
            # socket, close() would release nothing, and send nothing.
            self.client.shutdown(socket.SHUT_RD)
            rst(self.client)
        _drop(self.upstream)

    def wait_closed(self) -> None:
        """Block until the client closes (or the server stops)."""
        with contextlib.suppress(OSError):
            while self.client.recv(READ_SIZE):
                pass


def _drop(sock: socket.socket | None) -> None:
    """Close ``sock``, waking any thread blocked on it (a bare close() would not)."""
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


# -- the modes ----------------------------------------------------------------


@dataclass
class Mode:
    """A conforming server: every answer passes through unchanged (the control)."""

    standalone: ClassVar[bool] = False  # serves without the reference server
    accepts: ClassVar[bool] = True  # False: the listener never calls accept()
    stls: ClassVar[bool] = False  # the reference server behind it offers STLS

    def serve(self, link: Link) -> None:
        """A standalone mode's whole conversation."""
        raise NotImplementedError

    def greeting(self, link: Link, line: bytes) -> None:
        self.emit(link, line)

    def answer(self, link: Link, command: bytes, answer: Answer) -> None:
        self.emit(link, answer.wire())

    def emit(self, link: Link, data: bytes) -> None:
        link.send(data)


@dataclass
class Silent(Mode):
    """Accepts the connection and never says a word."""

    standalone: ClassVar[bool] = True

    def serve(self, link: Link) -> None:
        link.wait_closed()


@dataclass
class NeverAccept(Mode):
    """A listener that never calls accept(): the kernel's backlog fills, then SYNs are dropped."""

    standalone: ClassVar[bool] = True
    accepts: ClassVar[bool] = False


@dataclass
class HttpGreeting(Mode):
    """Answers like a web server: an HTTP response instead of a greeting, then closes."""

    standalone: ClassVar[bool] = True
    status: str = "400 Bad Request"

    def serve(self, link: Link) -> None:
        page = f"<html><body><h1>{self.status}</h1></body></html>\r\n".encode()
        head = (
            f"HTTP/1.1 {self.status}\r\nServer: nginx\r\nContent-Type: text/html\r\n"
            f"Content-Length: {len(page)}\r\nConnection: close\r\n\r\n"
        )
        link.send(head.encode() + page)


@dataclass
class Trickle(Mode):
    """Sends everything one byte at a time, ``delay`` seconds apart."""

    delay: float = 0.5

    def emit(self, link: Link, data: bytes) -> None:
        for i in range(len(data)):
            if link.closed.wait(self.delay):
                return
            link.send(data[i : i + 1])


@dataclass
class Endless(Mode):
    """A positive multi-line answer that never ends, to each of ``commands``."""

    commands: str = "CAPA,LIST,UIDL,RETR,TOP"
    line: bytes = b"endless line of a multi-line answer that never reaches its terminator"

    def answer(self, link: Link, command: bytes, answer: Answer) -> None:
        if keyword(command) not in self.commands.split(",") or not expects_multiline(command):
            super().answer(link, command, answer)
            return
        link.send(b"+OK here it comes" + CRLF)
        block = (self.line + CRLF) * max(1, READ_SIZE // (len(self.line) + 2))
        while not link.closed.is_set():
            link.send(block)


@dataclass
class LongLine(Mode):
    """The status line of each answer to ``commands`` padded to ``size`` octets."""

    size: int = 10_000_000
    commands: str = "CAPA,STAT"

    def answer(self, link: Link, command: bytes, answer: Answer) -> None:
        if keyword(command) in self.commands.split(","):
            pad = max(0, self.size - len(answer.status) - 1)
            answer.status = with_text(answer.status, b"x" * pad)
        super().answer(link, command, answer)


@dataclass
class ResetMidRetr(Mode):
    """RETR: the first ``after`` octets of a positive answer, then an RST.

    Where the reference server refuses (an empty maildrop), a positive answer
    is made up, so that the cut happens with and without seeded content.
    """

    after: int = 200

    def answer(self, link: Link, command: bytes, answer: Answer) -> None:
        if keyword(command) != "RETR":
            super().answer(link, command, answer)
            return
        data = answer.wire()
        if not answer.positive:
            body = b"Subject: cut short" + CRLF + CRLF + (b"x" * 76 + CRLF) * 64
            data = b"+OK " + str(len(body)).encode() + b" octets" + CRLF + body
        link.send(data[: self.after])
        link.reset()


# Invalid UTF-8, a NUL, and terminal escapes (clear screen, window title, colour).
BINARY: Final = b"\xff\xfe\xc3\x28 nul:\x00 \x1b[2J\x1b]0;hostile-title\x07\x1b[31mred\x1b[0m"
# Script and markup that must reach an HTML or XML report as text only.
MARKUP: Final = (
    b'<script>alert("hostile-xss")</script><img src=x onerror=alert("hostile-img")>'
    b" ]]></failure></testcase> &amp; <!--"
)


@dataclass
class Inject(Mode):
    """``payload`` added to every status text and as a line at the top of every body."""

    payload: bytes = MARKUP

    def greeting(self, link: Link, line: bytes) -> None:
        super().greeting(link, with_text(line, self.payload))

    def answer(self, link: Link, command: bytes, answer: Answer) -> None:
        if answer.status.startswith((b"+OK", b"-ERR")):
            answer.status = with_text(answer.status, self.payload)
        if answer.body is not None:
            answer.body.insert(0, self.payload + CRLF)
        super().answer(link, command, answer)


@dataclass
class CloseAfterGreeting(Mode):
    """Greets, then closes the connection."""

    def greeting(self, link: Link, line: bytes) -> None:
        super().greeting(link, line)
        link.close()


@dataclass
class Flood(Mode):
    """After the greeting, ``lines`` unsolicited lines that are no status line."""

    lines: int = 10_000
    text: str = "* NOTICE unsolicited line {n}"

    def greeting(self, link: Link, line: bytes) -> None:
        flood = b"".join(self.text.format(n=n).encode() + CRLF for n in range(self.lines))
        super().greeting(link, line + flood)


@dataclass
class StatusWord(Mode):
    """Every ``+OK`` after the greeting replaced by ``word`` (``OK``, ``+ok``, ``+OKAY``)."""

    word: bytes = b"OK"

    def answer(self, link: Link, command: bytes, answer: Answer) -> None:
        if answer.positive:
            answer.status = self.word + answer.status[3:]
        super().answer(link, command, answer)


@dataclass
class LyingSizes(Mode):
    """STAT and LIST sizes ``delta`` octets off what RETR sends."""

    delta: int = 7

    def answer(self, link: Link, command: bytes, answer: Answer) -> None:
        if answer.positive and keyword(command) in ("STAT", "LIST"):
            answer.status = b"+OK " + self._lie(answer.status[4:])
            if answer.body is not None:
                answer.body = [self._lie(line) for line in answer.body]
        super().answer(link, command, answer)

    def _lie(self, listing: bytes) -> bytes:
        """``n size`` -> ``n size+delta`` (the rest of the line kept)."""
        words = listing.rstrip(CRLF).split(b" ")
        if len(words) >= 2 and words[1].isdigit():
            words[1] = str(int(words[1]) + self.delta).encode()
        return b" ".join(words) + CRLF


@dataclass
class StlsGarbage(Mode):
    """Advertises STLS, answers it ``+OK`` and then sends ``garbage``, not a TLS handshake."""

    stls: ClassVar[bool] = True
    garbage: bytes = b"This is no TLS ServerHello, just text." + CRLF

    def answer(self, link: Link, command: bytes, answer: Answer) -> None:
        if keyword(command) == "STLS" and answer.positive:
            link.send(answer.status + self.garbage)
            link.close()
            return
        super().answer(link, command, answer)


@dataclass
class Echo(Mode):
    """Echoes each command back: ``-ERR you said 'PASS alicepw'``.

    With ``refuse`` every answer is that ``-ERR`` (a server that refuses
    everything); without it a refusal keeps its response code and gets the
    echo as its text, and a positive status line gets it appended.
    """

    refuse: bool = False

    def answer(self, link: Link, command: bytes, answer: Answer) -> None:
        said = b"you said '" + command[:400] + b"'"
        if self.refuse:
            answer = Answer(b"-ERR " + said + CRLF)
        elif answer.positive:
            answer.status = with_text(answer.status, b"(" + said + b")")
        elif answer.status.startswith(b"-ERR"):
            text = answer.status[4:].strip()
            code = text.partition(b"]")[0] + b"] " if text.startswith(b"[") else b""
            answer.status = b"-ERR " + code + said + CRLF
        super().answer(link, command, answer)


# name -> (mode class, its preset parameters)
MODES: Final[dict[str, tuple[type[Mode], dict[str, Any]]]] = {
    "conforming": (Mode, {}),
    "silent": (Silent, {}),
    "trickle": (Trickle, {}),
    "endless": (Endless, {}),
    "long-line": (LongLine, {}),
    "rst-mid-retr": (ResetMidRetr, {}),
    "binary": (Inject, {"payload": BINARY}),
    "markup": (Inject, {"payload": MARKUP}),
    "http-greeting": (HttpGreeting, {}),
    "close-after-greeting": (CloseAfterGreeting, {}),
    "flood": (Flood, {}),
    "bare-ok": (StatusWord, {"word": b"OK"}),
    "lower-ok": (StatusWord, {"word": b"+ok"}),
    "okay": (StatusWord, {"word": b"+OKAY"}),
    "lying-sizes": (LyingSizes, {}),
    "never-accept": (NeverAccept, {}),
    "stls-garbage": (StlsGarbage, {}),
    "echo": (Echo, {}),
    "echo-refuse": (Echo, {"refuse": True}),
}


def make_mode(name: str, **params: object) -> Mode:
    """The mode ``name`` with its presets, overridden by ``params``.

    A parameter given as text (from a command line) takes the type of the
    field's default: ``make_mode("trickle", delay="0.1")``.
    """
    try:
        cls, presets = MODES[name]
    except KeyError:
        raise ValueError(f"unknown mode {name!r}; known: {', '.join(MODES)}") from None
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    values: dict[str, Any] = dict(presets)
    for key, value in params.items():
        if key not in defaults:
            raise ValueError(f"mode {name} has no parameter {key!r}; it has {sorted(defaults)}")
        values[key] = _typed(value, defaults[key])
    return cls(**values)


def _typed(value: object, default: object) -> object:
    if not isinstance(value, str) or isinstance(default, str):
        return value
    if isinstance(default, bytes):
        return value.encode("utf-8").decode("unicode_escape").encode("latin-1")
    if isinstance(default, bool):
        return value.lower() in ("1", "true", "yes")
    if isinstance(default, int | float):
        return type(default)(value)
    raise ValueError(f"cannot read {value!r} as a {type(default).__name__}")


class HostileServer:
    """A mode on a loopback port, in front of ``reference`` unless the mode is standalone."""

    def __init__(self, mode: Mode, reference: EmbeddedServer | None = None) -> None:
        if not mode.standalone and reference is None:
            raise ValueError(f"{type(mode).__name__} needs a reference server behind it")
        self.mode = mode
        self._upstream = None if mode.standalone else reference
        self._links: set[Link] = set()
        self._lock = threading.Lock()
        self._listener: ScriptedServer | None = None
        self._idle: socket.socket | None = None
        self.port = 0

    def start(self) -> HostileServer:
        if not self.mode.accepts:
            self._idle = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._idle.bind(("127.0.0.1", 0))
            self._idle.listen(1)
            self.port = self._idle.getsockname()[1]
            return self
        self._listener = ScriptedServer(self._serve)
        self.port = self._listener.port
        self._listener.__enter__()
        return self

    def _serve(self, client: socket.socket) -> None:
        link = Link(self.mode, client)
        with self._lock:
            self._links.add(link)
        upstream = self._upstream
        try:
            link.serve(None if upstream is None else (upstream.host, upstream.port))
        finally:
            with self._lock:
                self._links.discard(link)

    def stop(self) -> None:
        if self._idle is not None:
            self._idle.close()
        if self._listener is not None:
            self._listener.__exit__(None, None, None)
        with self._lock:
            links = list(self._links)
        for link in links:
            link.close()


@contextlib.contextmanager
def serving(mode: Mode) -> Iterator[tuple[EmbeddedServer, HostileServer]]:
    """A fresh reference server (accounts, maildirs) and the mode in front of it."""
    with EmbeddedServer(tls=mode.stls) as reference:
        hostile = HostileServer(mode, reference).start()
        try:
            yield reference, hostile
        finally:
            hostile.stop()


def target_args(reference: EmbeddedServer, port: int, *, content: bool) -> list[str]:
    """The harness's target flags for the hostile server on ``port``."""
    args = ["--host", "127.0.0.1", "--port", str(port)]
    for account in reference.accounts:
        flag = "--apop-account" if account.apop else "--account"
        args += [flag, f"{account.user}:{account.password}"]
    if content:
        args += ["--provision", f"maildir:{reference.maildir_template}"]
    else:
        args += ["--provision", "none"]
    return args


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=sorted(MODES))
    parser.add_argument("params", nargs="*", metavar="NAME=VALUE", help="mode parameters")
    parser.add_argument("--content", action="store_true", help="print flags that seed content")
    args = parser.parse_args(argv)
    mode = make_mode(args.mode, **dict(p.split("=", 1) for p in args.params))
    with serving(mode) as (reference, hostile):
        flags = " ".join(target_args(reference, hostile.port, content=args.content))
        print(f"{mode!r} on 127.0.0.1:{hostile.port}", flush=True)
        print(f"python -m conformance.cli run {flags} --timeout 2", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
