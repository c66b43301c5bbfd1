"""Maildir storage and the octet rules, without a server."""

from __future__ import annotations

import hashlib
import os

import pytest

from conformance.server.maildrop import Maildrop, normalise, stuff, top, unique_id


@pytest.mark.parametrize(
    ("raw", "served"),
    [
        (b"", b""),
        (b"a\nb\n", b"a\r\nb\r\n"),
        (b"a\r\nb\r\n", b"a\r\nb\r\n"),
        (b"a\r\nb\nc", b"a\r\nb\r\nc\r\n"),  # mixed, last line unterminated
        (b"a\r", b"a\r\n"),
        (b"\n\n", b"\r\n\r\n"),
    ],
)
def test_normalise_gives_crlf_everywhere(raw, served):
    assert normalise(raw) == served


def test_stuff_doubles_leading_dots_only():
    assert stuff(b".a\r\nb.c\r\n.\r\n..\r\n") == b"..a\r\nb.c\r\n..\r\n...\r\n"
    assert stuff(b"plain\r\n") == b"plain\r\n"


MESSAGE = b"H: 1\r\nFolded:\r\n x\r\n\r\nb1\r\n\r\nb3\r\n"


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (0, b"H: 1\r\nFolded:\r\n x\r\n\r\n"),
        (1, b"H: 1\r\nFolded:\r\n x\r\n\r\nb1\r\n"),
        (2, b"H: 1\r\nFolded:\r\n x\r\n\r\nb1\r\n\r\n"),
        (3, MESSAGE),
        (10**30, MESSAGE),
    ],
)
def test_top_cuts_after_the_blank_line(lines, expected):
    assert top(MESSAGE, lines) == expected


def test_top_of_messages_without_headers_or_body():
    assert top(b"\r\nbody\r\nmore\r\n", 1) == b"\r\nbody\r\n"
    assert top(b"H: only headers\r\n", 0) == b"H: only headers\r\n"


def test_unique_id_keeps_valid_names_and_hashes_the_rest():
    assert unique_id("1700000000.M1P2.host") == "1700000000.M1P2.host"
    assert unique_id("1700000000.M1P2.host:2,RS") == "1700000000.M1P2.host"
    for bad in ("has space", "x" * 71, "caf\u00e9", ""):
        uid = unique_id(bad)
        assert uid == hashlib.sha1(bad.encode()).hexdigest()
    assert len(unique_id("x" * 70)) == 70


def test_load_orders_by_name_across_new_and_cur(tmp_path):
    (tmp_path / "new").mkdir()
    (tmp_path / "cur").mkdir()
    (tmp_path / "new" / "3.c").write_bytes(b"three\n")
    (tmp_path / "cur" / "1.a:2,S").write_bytes(b"one\n")
    (tmp_path / "new" / "2.b").write_bytes(b"two\r\n")
    (tmp_path / "new" / ".hidden").write_bytes(b"not mail\n")
    (tmp_path / "new" / "subdir").mkdir()
    drop = Maildrop.load(tmp_path)
    assert [m.uid for m in drop] == ["1.a", "2.b", "3.c"]
    assert [m.size for m in drop] == [5, 5, 7]
    assert drop.read(2) == b"three\r\n"


def test_same_name_in_new_and_cur_still_gets_distinct_uids(tmp_path):
    for sub in ("new", "cur"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "1.a").write_bytes(b"x\n")
    uids = [m.uid for m in Maildrop.load(tmp_path)]
    assert len(set(uids)) == 2


def test_missing_maildir_is_empty(tmp_path):
    assert len(Maildrop.load(tmp_path / "nope")) == 0


def test_remove_reports_failures_and_tolerates_vanished_files(tmp_path):
    (tmp_path / "new").mkdir()
    for name in ("1", "2", "3"):
        (tmp_path / "new" / name).write_bytes(b"m\n")
    drop = Maildrop.load(tmp_path)
    os.unlink(tmp_path / "new" / "1")  # already gone: not a failure
    (tmp_path / "new" / "2").unlink()
    (tmp_path / "new" / "2").mkdir()
    (tmp_path / "new" / "2" / "x").write_bytes(b"")
    assert drop.remove([0, 1, 2]) == [1]
    assert not (tmp_path / "new" / "3").exists()


def test_mail_delivered_after_login_is_unlisted_and_raw_is_the_stored_file(tmp_path):
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "1.a").write_bytes(b"one\r\nlast")
    drop = Maildrop.load(tmp_path)
    assert drop.unlisted() == []
    (tmp_path / "cur").mkdir()
    (tmp_path / "cur" / "2.b:2,").write_bytes(b"two\n")
    assert drop.unlisted() == [tmp_path / "cur" / "2.b:2,"]
    assert drop.raw(0) == b"one\r\nlast" and drop.read(0) == b"one\r\nlast\r\n"
    assert Maildrop([]).unlisted() == []  # no directory known: nothing to say
