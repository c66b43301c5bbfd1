"""The extension commands: CAPA (RFC 2449), UTF8 and LANG (RFC 6856), and the capability list.

Each handler is a function of the :class:`~conformance.server.session.Session`
and the :class:`~conformance.server.vocabulary.Command`; the session's table
(:data:`~conformance.server.session.HANDLERS`) says in which phase each one
answers.

Like the rest of the server this imports nothing from the harness.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from conformance.server import auth_handlers as auth
from conformance.server.config import IMPLEMENTATION
from conformance.server.vocabulary import CRLF, Command, Reply, err, multiline, ok

if TYPE_CHECKING:
    from conformance.server.session import Session

# LANG (RFC 6856 section 3): the one language the server's texts are in.
LANGUAGES: Final = {"en": "English"}
DEFAULT_LANGUAGE: Final = "en"
UTF8_REFUSED: Final = "[UTF8] message has UTF-8 headers: send UTF8 first"


def capabilities(session: Session) -> list[str]:
    """What CAPA lists in the current state."""
    refused = auth.plaintext_refused(session)
    # In privacy mode USER and SASL appear only once TLS is on: RFC 2595
    # section 4 "The server MAY advertise different capabilities after STLS".
    capabilities = ["TOP", "UIDL", *([] if refused else ["USER"]), "RESP-CODES", "PIPELINING"]
    mechanisms = auth.mechanisms(session)
    if mechanisms:
        # RFC 5034 section 3: kept in TRANSACTION too, "even though no further
        # AUTH commands may be issued".
        capabilities.append("SASL " + " ".join(mechanisms))
    capabilities.append("AUTH-RESP-CODE")
    if auth.stls_offered(session):
        capabilities.append("STLS")
    capabilities += ["UTF8", "LANG", f"IMPLEMENTATION {IMPLEMENTATION}"]
    if session.config.login_delay:
        # RFC 2449 section 6.5: the same delay for every user, so no USER token.
        capabilities.append(f"LOGIN-DELAY {session.config.login_delay:g}")
    if session.defect("expire-glued"):
        capabilities.append("EXPIRENEVER")  # "EXPIRE" and "NEVER" without the space
    left_out = set()
    if session.behaves("no-resp-codes"):
        left_out |= {"RESP-CODES", "AUTH-RESP-CODE"}
    if session.behaves("no-top-uidl"):
        left_out |= {"TOP", "UIDL"}
    return [c for c in capabilities if c not in left_out]


def capa_cmd(session: Session, command: Command) -> Reply:
    if command.args and not session.defect("arguments-ignored"):
        return Reply(err("CAPA takes no argument"))
    body = b"".join(c.encode() + CRLF for c in capabilities(session))
    return Reply(multiline("capability list follows", body))


def utf8_cmd(session: Session, command: Command) -> Reply:
    # RFC 6856 section 2.1: "The "UTF8" command has no parameters."
    if command.args:
        return Reply(err("UTF8 takes no argument"))
    if session.behaves("refuses-utf8"):
        return Reply(err("UTF-8 mode is not offered to this session"))
    session.utf8 = True
    return Reply(ok("UTF-8 mode enabled"))


def utf8_refused(session: Session, message: bytes) -> bool:
    """Whether the message's header section needs UTF-8 mode, which is off.

    RFC 6856 section 2.1: "When UTF-8 mode has not been enabled, character
    strings outside the ASCII repertoire MUST NOT be sent to the client as
    is ... the server MUST either send the client a surrogate message ...
    or fail the request with an -ERR response."  Only the header section
    counts: an 8-bit body under MIME 8bit transfer encoding is "obviously
    allowed" (same section).
    """
    if session.utf8 or session.defect("utf8-headers-without-utf8-mode"):
        return False
    end = message.find(CRLF + CRLF)
    header = message if end < 0 else message[:end]
    return not header.isascii()


def lang_cmd(session: Session, command: Command) -> Reply:
    if not command.args:
        # RFC 6856 section 3.2: one "language listing" per line, the tag
        # "optionally followed by a single space and a human-readable
        # description of the language in the language itself".
        body = "".join(f"{tag} {name}\r\n" for tag, name in LANGUAGES.items())
        return Reply(multiline("language listing follows", body.encode("utf-8")))
    if len(command.args) != 1:
        return Reply(err("LANG takes one language range"))
    tag = _match_language(command.args[0])
    if tag is None:
        # RFC 6856 section 3.2: on -ERR the previous language stays in use.
        return Reply(err("unsupported language"))
    session.language = tag
    # RFC 6856 section 3.2: "+OK response followed by a single space, the
    # exact language tag selected, and another space".
    return Reply(ok(f"{tag} language changed"))


def _match_language(language_range: str) -> str | None:
    """The supported tag a basic language range picks (RFC 4647 section 3.3.1), or None.

    RFC 6856 section 3.2: "*" asks for the administrator's preferred language.
    """
    if language_range == "*":
        return DEFAULT_LANGUAGE
    wanted = language_range.lower()
    for tag in LANGUAGES:
        if tag == wanted or tag.startswith(wanted + "-"):
            return tag
    return None
