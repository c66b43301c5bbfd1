"""Header fields a server adds to stored mail, told apart from real changes.

Real servers write their own header fields into stored messages between
sessions: Mailutils adds Status, X-UIDL and X-IMAPbase when a session ends,
Cyrus adds Received and Return-Path at delivery.  RFC 1939 does not forbid
that; what a client relies on is that a message keeps its unique-id, its own
header fields and its body.  So two versions of a message count as the same
when they differ only in fields that the seeded message did not have.
"""

from __future__ import annotations

from collections.abc import Iterable

CRLF = b"\r\n"


def split_message(data: bytes) -> tuple[list[bytes], bytes]:
    """The header fields (continuation lines kept with their field) and the body."""
    head, sep, body = data.partition(CRLF + CRLF)
    if not sep:
        head, body = data, b""
    fields: list[bytes] = []
    for line in head.split(CRLF):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += CRLF + line
        elif line:
            fields.append(line)
    return fields, body


def field_name(field: bytes) -> bytes:
    return field.split(b":", 1)[0].strip().lower()


def seeded_names(messages: Iterable[bytes]) -> frozenset[bytes]:
    """The names of the header fields the seeded messages have."""
    return frozenset(field_name(f) for m in messages for f in split_message(m)[0])


def same_but_server_fields(old: bytes, new: bytes, seeded: frozenset[bytes]) -> bool:
    """Whether ``old`` and ``new`` differ only in header fields the seed did not have."""
    if old == new:
        return True
    old_fields, old_body = split_message(old)
    new_fields, new_body = split_message(new)
    if old_body != new_body:
        return False

    def kept(fields: list[bytes]) -> list[bytes]:
        return [f for f in fields if field_name(f) in seeded]

    return kept(old_fields) == kept(new_fields)


def added_names(old: bytes, new: bytes) -> list[str]:
    """The names of the header fields ``new`` has and ``old`` does not, in ``new``'s order."""
    before = {field_name(f) for f in split_message(old)[0]}
    names = [field_name(f) for f in split_message(new)[0]]
    return [n.decode("latin-1") for n in dict.fromkeys(names) if n not in before]
