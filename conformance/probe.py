"""What the harness learns about a server once, at the start of a run.

The greeting and CAPA (RFC 2449) are read on one connection before any
scenario runs.  A server without CAPA is judged by RFC 1939 alone: its
optional commands are found out by use.
"""

from __future__ import annotations

import functools
import ssl
from dataclasses import dataclass, field

from conformance.pop3 import COMMANDS, Response, apop_timestamp, capability_names
from conformance.target import Target
from conformance.tls import TLSError, make_client_context
from conformance.transcript import Transcript
from conformance.transport import ConnectError, Session

# RFC 1939 optional commands that a server without CAPA may still implement;
# a scenario that needs one of them runs and finds out.
RFC1939_OPTIONAL = frozenset(
    k for k, spec in COMMANDS.items() if spec.optional and spec.defined_in.startswith("RFC 1939")
)


@functools.lru_cache(maxsize=64)
def _implements(has_capa: bool, capabilities: frozenset[str]) -> frozenset[str]:
    # Asked at every session's start (an exploration opens thousands).
    tagged = [k for k, spec in COMMANDS.items() if spec.optional and spec.capability == k]
    if not has_capa:
        return frozenset(k for k in tagged if k in RFC1939_OPTIONAL)
    return frozenset(k for k in tagged if k in capabilities)


@dataclass(frozen=True)
class ServerProfile:
    greeting: str
    has_capa: bool
    capa_lines: tuple[str, ...] = ()
    capabilities: frozenset[str] = field(default_factory=frozenset)
    timestamp: str | None = None  # the APOP timestamp of the probe's greeting, if any
    # CAPA again inside TLS after STLS, when the server offers STLS and the
    # handshake worked: a server may offer more once TLS is on (RFC 2595
    # section 4), e.g. PLAIN, and scenarios secure their sessions first.
    tls_capa_lines: tuple[str, ...] = ()

    @property
    def expire_zero(self) -> bool:
        """EXPIRE 0 (RFC 2449 section 6.7): retrieved messages may go at QUIT."""
        return any(line.split()[:2] == ["EXPIRE", "0"] for line in self.capa_lines)

    def logs_in_with_apop(self, apop_account: bool) -> bool:
        """How the harness logs in: APOP for a mailbox declared as APOP-only,
        or where the server offers APOP (a greeting timestamp) but not USER."""
        return apop_account or (
            self.has_capa and not self.advertises("USER") and self.timestamp is not None
        )

    def advertises(self, name: str) -> bool:
        """Whether CAPA lists ``name``; ``NAME=ARG`` also needs ARG among its
        arguments, ``NAME>N`` a first argument that is a number above N."""
        tag, above, bound = name.upper().partition(">")
        if not above:
            return tag in self.capabilities
        value = self.first_number(tag)
        return value is not None and value > int(bound)

    def first_number(self, tag: str) -> int | None:
        """The number a capability announces in AUTHORIZATION state (LOGIN-DELAY 900), if any."""
        for line in self.capa_lines:
            words = line.split()
            if len(words) > 1 and words[0].upper() == tag.upper() and _number(words[1]):
                return int(words[1])
        return None

    @property
    def login_delay(self) -> int | None:
        """LOGIN-DELAY's seconds (RFC 2449 section 6.5): in AUTHORIZATION state, the
        largest delay any user can have."""
        return self.first_number("LOGIN-DELAY")

    def missing(self, needs: list[str]) -> list[str]:
        """The needed capabilities this server cannot be assumed to have."""
        out = []
        for need in needs:
            if self.advertises(need):
                continue
            if need.upper() == "APOP":
                # APOP has no CAPA tag (RFC 2449 section 6): the greeting's
                # timestamp is how a server says it offers APOP (RFC 1939
                # section 7), with or without CAPA; without one there is
                # nothing to compute a digest from.
                if not self.timestamp:
                    out.append(need)
                continue
            if not self.has_capa and need.upper() in RFC1939_OPTIONAL:
                continue
            out.append(need)
        return out

    def implements(self) -> frozenset[str]:
        """Optional commands the server says it implements (a refusal of one is a fault).

        Those whose CAPA tag is their keyword, where CAPA lists it; without
        CAPA, the RFC 1939 ones are assumed and judged by use.
        """
        return _implements(self.has_capa, self.capabilities)

    def describe(self) -> dict[str, object]:
        described: dict[str, object] = {
            "greeting": self.greeting,
            "capa": list(self.capa_lines) if self.has_capa else None,
        }
        if self.tls_capa_lines:
            described["capa_after_stls"] = list(self.tls_capa_lines)
        return described


def probe(
    host: str,
    port: int,
    timeout: float,
    connect_timeout: float,
    tls: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
) -> ServerProfile:
    """Connect once, read the greeting and CAPA; raises ConnectError when unreachable.

    With ``tls`` and STLS offered, CAPA is read again inside TLS; a failed
    STLS is left to the STLS scenarios to judge.
    """
    transcript = Transcript()
    session = Session("P", host, port, transcript, timeout=timeout, connect_timeout=connect_timeout)
    greeting = session.connect()
    try:
        if not greeting.answered or greeting.status is None:
            # Silence, a close, or something that is not POP3 (an HTTP server on
            # the port): the target is not reachable as a POP3 server at all.
            raise ConnectError(f"{host}:{port} is not a POP3 server: {_first_bytes(greeting)}")
        text = greeting.status_text()
        stamp = apop_timestamp(text)
        capa = session.command("CAPA") if greeting.ok else None
        if capa is not None and capa.kind == "multi" and capa.ok:
            lines = [ln.decode("latin-1") for ln in capa.lines]
            tls_lines = (
                _capa_inside_tls(session, tls, server_hostname)
                if "STLS" in (capability_names(lines))
                else []
            )
            profile = ServerProfile(
                text,
                True,
                tuple(lines),
                capability_names(lines + tls_lines),
                stamp,
                tuple(tls_lines),
            )
        else:
            profile = ServerProfile(text, False, timestamp=stamp)
        if session.connected:
            session.command("QUIT", timeout=min(timeout, 3.0))
        return profile
    finally:
        session.abandon()


def _first_bytes(greeting: Response) -> str:
    if greeting.kind == "timeout":
        return f"it accepts connections but sent no greeting ({greeting.describe()})"
    if greeting.kind == "closed":
        return f"it closed the connection before a greeting ({greeting.describe()})"
    return f"its first bytes are {greeting.status_line[:60]!r}"


def _capa_inside_tls(
    session: Session, tls: ssl.SSLContext | None, server_hostname: str | None
) -> list[str]:
    if tls is None:
        return []
    if not session.command("STLS").ok:
        return []
    try:
        session.starttls(tls, server_hostname)
    except TLSError:
        return []
    capa = session.command("CAPA")
    if capa.kind != "multi" or not capa.ok:
        return []
    return [ln.decode("latin-1") for ln in capa.lines]


def probe_target(target: Target) -> ServerProfile:
    """:func:`probe` with the target's address, deadlines and TLS settings."""
    return probe(
        target.host,
        target.port,
        target.timeout,
        target.connect_timeout,
        make_client_context(target.tls_ca, target.tls_insecure),
        target.tls_servername,
    )


def _number(word: str) -> bool:
    return word.isascii() and word.isdigit() and len(word) <= 9
