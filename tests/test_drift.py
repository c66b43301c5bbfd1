"""Server-added header fields are told apart from real changes to a message."""

from __future__ import annotations

from conformance.drift import same_but_server_fields, seeded_names, split_message

SEED = b"From: a@x\r\nSubject: hi\r\n folded\r\n\r\nbody line\r\n"
SEEDED = seeded_names([SEED])


def test_split_keeps_folded_lines_with_their_field() -> None:
    fields, body = split_message(SEED)
    assert fields == [b"From: a@x", b"Subject: hi\r\n folded"]
    assert body == b"body line\r\n"


def test_added_status_and_uidl_fields_are_the_same_message() -> None:
    rewritten = SEED.replace(b"folded\r\n", b"folded\r\nStatus: RO\r\nX-UIDL: 7\r\n")
    assert same_but_server_fields(SEED, rewritten, SEEDED)
    again = rewritten.replace(b"Status: RO", b"Status: OR")
    assert same_but_server_fields(rewritten, again, SEEDED)


def test_a_changed_body_is_a_different_message() -> None:
    assert not same_but_server_fields(SEED, SEED.replace(b"body", b"bodY"), SEEDED)


def test_a_changed_or_dropped_seeded_field_is_a_different_message() -> None:
    assert not same_but_server_fields(SEED, SEED.replace(b"Subject: hi", b"Subject: ho"), SEEDED)
    assert not same_but_server_fields(SEED, SEED.replace(b"From: a@x\r\n", b""), SEEDED)
