"""Maildir storage for the reference server, and the octet rules of RFC 1939.

A maildrop is a snapshot taken at login: the regular files of ``new/`` and
``cur/`` ordered by file name.  Message numbers index that snapshot for the
whole session, whatever happens on disk meanwhile.  Messages are served with
CRLF line ends whatever the file holds (RFC 1939 section 11: a server that
stores LF counts each line end as two octets), so sizes are those of the
normalised text, before any dot-stuffing.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

CRLF: Final = b"\r\n"
SUBDIRS: Final = ("cur", "new")
INFO_SEPARATOR: Final = ":2,"  # maildir flags follow this; they change, the name before does not
MAX_UID: Final = 70  # RFC 1939 section 7, UIDL


def normalise(raw: bytes) -> bytes:
    """The message as served: every line ends in CRLF, including the last one."""
    data = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if data and not data.endswith(CRLF):
        # A last line without a newline still needs CRLF before the
        # terminator (RFC 1939 section 3); a lone trailing CR just gets its LF.
        data += b"\n" if data.endswith(b"\r") else CRLF
    return data


def stuff(data: bytes) -> bytes:
    """Byte-stuff normalised text: a line starting with "." gets another one."""
    stuffed = data.replace(b"\r\n.", b"\r\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


def top(data: bytes, lines: int) -> bytes:
    """The headers, the blank line and the first ``lines`` body lines of normalised text."""
    if data.startswith(CRLF):
        body = len(CRLF)  # no headers at all: the blank line comes first
    else:
        blank = data.find(b"\r\n\r\n")
        if blank < 0:
            return data  # headers only: there is no body to cut
        body = blank + 2 * len(CRLF)
    end = body
    while lines > 0 and end < len(data):
        found = data.find(CRLF, end)
        end = len(data) if found < 0 else found + len(CRLF)
        lines -= 1
    return data[:end]


def unique_id(name: str) -> str:
    """A UIDL unique-id for a maildir file name, stable while the file exists.

    The part before ``:2,`` is the maildir's own unique name; it is used as is
    when it fits RFC 1939 (1 to 70 characters in 0x21..0x7E), else its SHA-1.
    """
    base = name.split(INFO_SEPARATOR, 1)[0]
    if 1 <= len(base) <= MAX_UID and all(0x21 <= ord(c) <= 0x7E for c in base):
        return base
    return _digest(base)


def _digest(text: str) -> str:
    return hashlib.sha1(os.fsencode(text)).hexdigest()


@dataclass(frozen=True)
class StoredMessage:
    path: Path
    uid: str
    size: int  # octets as served: CRLF line ends, without stuffing


class Maildrop:
    """The messages of one maildir as listed at login (index 0 is message 1)."""

    def __init__(self, messages: Sequence[StoredMessage], directory: Path | None = None) -> None:
        self._messages = tuple(messages)
        self.directory = directory

    @classmethod
    def load(cls, directory: Path) -> Maildrop:
        """List ``new/`` and ``cur/``; a missing maildir is an empty maildrop."""
        entries: list[tuple[str, str, Path]] = []
        for sub in SUBDIRS:
            try:
                with os.scandir(directory / sub) as listing:
                    for entry in listing:
                        # Dot files are not mail (maildir convention).
                        if not entry.name.startswith(".") and entry.is_file():
                            entries.append((entry.name, sub, Path(entry.path)))
            except (FileNotFoundError, NotADirectoryError):
                continue
        messages: list[StoredMessage] = []
        seen: set[str] = set()
        for name, sub, path in sorted(entries):
            try:
                size = len(normalise(path.read_bytes()))
            except FileNotFoundError:
                continue  # removed between the listing and the read
            uid = unique_id(name)
            if uid in seen:
                # The same maildir name in new/ and cur/: keep both unique.
                uid = _digest(f"{sub}/{name}")
            seen.add(uid)
            messages.append(StoredMessage(path, uid, size))
        return cls(messages, directory)

    def __len__(self) -> int:
        return len(self._messages)

    def __getitem__(self, index: int) -> StoredMessage:
        return self._messages[index]

    def __iter__(self) -> Iterator[StoredMessage]:
        return iter(self._messages)

    def read(self, index: int) -> bytes:
        """The message's normalised text; raises OSError when the file cannot be read."""
        return normalise(self._messages[index].path.read_bytes())

    def raw(self, index: int) -> bytes:
        """The message's file as stored (line ends as they are); OSError if unreadable."""
        return self._messages[index].path.read_bytes()

    def unlisted(self) -> list[Path]:
        """Files in ``new/`` and ``cur/`` now that were not there at login: mail delivered since."""
        if self.directory is None:
            return []
        listed = {m.path for m in self._messages}
        return [m.path for m in Maildrop.load(self.directory) if m.path not in listed]

    def remove(self, indices: Iterable[int]) -> list[int]:
        """Remove the given messages from disk; return the indices that could not be removed."""
        failed: list[int] = []
        for index in sorted(set(indices)):
            try:
                self._messages[index].path.unlink()
            except FileNotFoundError:
                continue  # already gone: the deletion asked for has happened
            except OSError:
                failed.append(index)
        return failed

    def rewrite(self, directory: Path, removed: Iterable[int]) -> list[int]:
        """The "quit-rewrites-snapshot" defect: write the maildrop back from this snapshot.

        As a server that rewrites a whole mailbox file from what it listed at
        login would: the marked messages go, and so does every message that
        arrived since, because the snapshot does not hold it.
        """
        kept = {message.path for message in self._messages}
        for sub in SUBDIRS:
            try:
                with os.scandir(directory / sub) as listing:
                    strangers = [
                        Path(e.path)
                        for e in listing
                        if e.is_file() and not e.name.startswith(".") and Path(e.path) not in kept
                    ]
            except (FileNotFoundError, NotADirectoryError):
                continue
            for path in strangers:
                path.unlink(missing_ok=True)
        return self.remove(removed)
