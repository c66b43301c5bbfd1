"""Build ``conformance/data/requirements.json`` from the Markdown requirement catalog.

Usage::

    python tools/build_catalog.py [path/to/requirements.md] [--output PATH]

The default input is ``../shared/requirements.md`` relative to the repository
root.  The Markdown file stays the human-edited source; the JSON is generated
package data, so that an installed harness can quote requirement sentences
without the Markdown file being present.

Each entry in the Markdown looks like::

    **RFC1939-5.DELE-1** · §5 DELE · implied · [MB][DROP]
    "The POP3 server marks the message as deleted." (Possible Responses: ...)
    Test: `DELE k` for existing k → `+OK`. → FAIL.

The heading's middle fields are the RFC section (absent for RFC 1957, which
has no numbered sections), the level text, and flags in square brackets.  The
quote line(s) are optional; the ``Test`` paragraph runs to the next blank line.

The script fails loudly (exit status 1, one message per problem) if the
entry count is not the expected one, an ID repeats, a heading cannot be
parsed, a flag is unknown, or a reviewed grade override no longer matches
the catalog text it was written for.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
# The builder runs from a checkout where the package may not be installed.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from conformance.outcomes import Level  # noqa: E402  (needs the sys.path line above)

EXPECTED_COUNT = 203  # requirements.md §12 "Counts": the catalog's own total
DEFAULT_INPUT = REPO_ROOT.parent / "shared" / "requirements.md"
DEFAULT_OUTPUT = REPO_ROOT / "conformance" / "data" / "requirements.json"

# Flags as defined in requirements.md §0.  A bracket may carry a qualifier
# ("[PASSIVE in TRANSACTION]", "[CFG: shared secret]", "[SLOW-ish]"); the
# leading keyword is the flag, and the qualifier stays readable in the test text.
KNOWN_FLAGS = ("2S", "DROP", "MB", "INJ", "TLS", "CFG", "SLOW", "PASSIVE", "FAULT")

HEADING = re.compile(r"^\*\*(?P<id>RFC\d{4}-[^*\s]+)\*\*(?P<rest>.*)$")
ID_SHAPE = re.compile(r"^RFC(?P<rfc>\d{4})-(?:(?P<section>\d+(?:\.\d+)*)(?:\.[A-Z0-9]+)?-)?\d+$")
SECTION_NUMBER = re.compile(r"§\s*(?P<num>\d+(?:\.\d+)*)")
FLAG_BRACKET = re.compile(r"\[(?P<body>[^\]]+)\]")
FLAG_KEYWORD = re.compile(r"^[0-9A-Z]+")
# Brackets whose keyword is glued to a qualifier, reviewed one by one.
FLAG_QUALIFIED: dict[str, str | None] = {
    "SLOW-ish": "SLOW",  # RFC2449-6.5-1: waits out a LOGIN-DELAY, still slow to run
    "TLS-related": None,  # RFC1939-13-2: about cleartext PASS; needs no TLS to test
}
TEST_LINE = re.compile(r"^Test\b")
# Between two separately quoted passages the catalog writes `" / "`, `" §6: "`,
# `" + §9 "`, `"; §6: "` or `" (App. A: "`; a lone quote has none of these.
# A nested quote such as `"+OK"` is not a separator, hence the whitespace.
QUOTE_SEPARATOR = re.compile(r'"(?:;|\s+(?:/|\+|§|\(|—))')

# Grades that Level.parse cannot derive from the level text alone.  Each entry
# is ID -> (the level text it was reviewed against, the grade, why).  The level
# text is checked so that an edit to the catalog forces a new review instead
# of silently keeping a stale grade.  A grade is "what breaking this
# requirement grades as" (Level.outcome_when_broken), so it follows the
# strongest outcome the catalog's own "→" hint assigns to a server fault.
GRADE_OVERRIDES: dict[str, tuple[str, Level, str]] = {
    "RFC1939-6.QUIT-2": (
        'may (MUST-equivalent "In no case may")',
        Level.MUST,
        # Level.parse sees the leading lower-case "may" and answers MAY, but
        # "In no case may the server remove ..." is a prohibition (test → FAIL).
        "prohibition worded with 'may'",
    ),
    "RFC5034-4-3": (
        'may ("may only")',
        Level.MUST,
        # "may only be given during the AUTHORIZATION state" restricts the
        # command to one state, like RFC 1939's "may only be given" (test → FAIL).
        "state restriction worded with 'may only'",
    ),
    "RFC5034-4-15": (
        "SHOULD / MUST",
        Level.MUST,
        # The entry pairs a SHOULD (use SASLprep) with a MUST (fail the
        # exchange when preparation fails); Level.parse finds "SHOULD" first.
        # "MUST / SHOULD" entries already grade MUST, and the test says → FAIL.
        "the strongest keyword of the entry is MUST",
    ),
    "RFC1939-7.USER-2": (
        "may / security advisory",
        Level.INFO,
        # Level.parse reads "advisory" as SHOULD, but the server is explicitly
        # allowed either answer; the test only records enumeration (→ INFO).
        "permission plus a security note; the test only records",
    ),
    "RFC2595-6-1": (
        "MUST NOT (unless backward compat)",
        Level.SHOULD,
        # The escape clause ("or backwards compatibility dictates otherwise")
        # lets a conforming server advertise PLAIN in the clear; the catalog
        # grades it NON-STRICT.
        "MUST NOT with a backward-compatibility escape clause",
    ),
    "RFC2595-2.1-1": (
        "REQUIRED (historic)",
        Level.INFO,
        # Level.parse falls through to MUST for "REQUIRED", but this cipher
        # suite is obsolete (superseded by RFC 8314 / RFC 7525): INFO only.
        "obsolete cipher-suite requirement",
    ),
    "RFC2449-9-1": (
        "MUST (registry)",
        Level.INFO,
        # A rule for RFC authors and IANA, not for servers: the test only
        # lists unregistered capabilities (→ INFO).
        "registry rule, not a server requirement",
    ),
    "RFC5034-3-4": (
        "SHOULD NOT / MUST NOT",
        Level.INFO,
        # Both keywords bind the client; the harness obeys them and only
        # records how the server reacts (→ INFO).
        "client-side rule; the server's reaction is recorded only",
    ),
    "RFC2449-5-6": (
        "SHOULD (client) → server-relevant",
        Level.INFO,
        # A SHOULD on the client (re-issue CAPA); the catalog says it is a
        # behaviour of the harness, not a server check.
        "client-side rule the harness follows",
    ),
    "RFC1939-3-1": (
        "implied (default port)",
        Level.INFO,
        # "listening on TCP port 110" describes the default; a server on
        # another port is still conforming (test → INFO).
        "describes the default port only",
    ),
    "RFC1939-4-6": (
        "may",
        Level.MUST,
        # The "may"s grant freedom to the server (close) and to the client (new
        # USER or QUIT); the only thing a server can break is refusing both
        # while staying open, which the catalog grades FAIL.
        "client permission that binds an open server",
    ),
    "RFC1939-7.APOP-4": (
        "implied (client format)",
        Level.INFO,
        # The digest format binds the client; whether the server also accepts
        # upper-case hex is recorded only (test → INFO).
        "client-side format; the server's leniency is recorded only",
    ),
    "RFC1939-11-1": (
        "implied",
        Level.INFO,
        # "are assumed to conform to RFC 822" states an assumption, not a
        # server duty; the test reports transformations (→ INFO).
        "an assumption about message content",
    ),
    "RFC1939-13-2": (
        "advisory",
        Level.INFO,
        # Level.parse reads "advisory" as SHOULD, but "Use of the PASS command
        # sends passwords in the clear" is a statement of fact (test → INFO).
        "security observation, no keyword",
    ),
    "RFC6856-7-1": (
        "advisory",
        Level.INFO,
        # "strongly advised to implement a configuration": whether the
        # configuration exists is not observable in the running profile (→ INFO).
        "advice about an optional configuration",
    ),
    "RFC2449-8-1": (
        "implied",
        Level.SHOULD,
        # A response code without RESP-CODES advertised is graded NON-STRICT by
        # the catalog: clients must cope with bracketed text anyway.
        "catalog grades a breach NON-STRICT",
    ),
}


# Notes the harness adds to an entry, reviewed like GRADE_OVERRIDES against the
# level text they were written for (the Markdown catalog is shared, read-only
# here).  ID -> (the level text it was reviewed against, the note).
NOTES: dict[str, tuple[str, str]] = {
    "RFC1939-3-12": (
        "MUST (pre-2119)",
        "One grading rule for arguments (docs/state-machine.md, 'Arguments: one grammar, "
        "one grading rule'): what a command's grammar in conformance/pop3/spec.py forbids "
        "(an argument missing or one too many, a message-number or line count that is not "
        "1*DIGIT, a bare CR inside the line) must get -ERR, and +OK is a fail, for every "
        "command, those without arguments included: no quoted sentence softens this MUST, "
        "so the Test's NON-STRICT for NOOP x, STAT 1 and QUIT now no longer applies. Only "
        "what the catalog tolerates is graded info: spacing other than one SP "
        "(RFC1939-3-5) and leading zeros (RFC1939-4-8).",
    ),
}


# Implied requirements the catalog gives no quoted sentence for: the RFC
# passage each is implied from, so that a fail still carries its quote
# (reports, baselines).  Reviewed like NOTES against the level text.
IMPLIED_QUOTES: dict[str, tuple[str, str]] = {
    "RFC1939-5.LIST-7": (
        'implied ("-ERR no such message")',
        "LIST [msg] ... Arguments: a message-number (optional), which, if present, may NOT "
        "refer to a message marked as deleted ... Possible Responses: +OK scan listing "
        "follows / -ERR no such message",
    ),
    "RFC1939-5.RETR-3": (
        'implied ("-ERR no such message")',
        "RETR msg ... Arguments: a message-number (required) which may NOT refer to a "
        "message marked as deleted ... Possible Responses: +OK message follows / "
        "-ERR no such message",
    ),
    "RFC1939-5.DELE-5": (
        "implied",
        "DELE msg ... Arguments: a message-number (required) which may NOT refer to a "
        "message marked as deleted ... Possible Responses: +OK message deleted / "
        "-ERR no such message",
    ),
    "RFC1939-5.RSET-2": (
        "implied",
        "If any messages have been marked as deleted by the POP3 server, they are unmarked. "
        "The POP3 server then replies with a positive response.",
    ),
    "RFC2595-4-3": (
        'implied ("Only permitted in AUTHORIZATION state.")',
        "STLS ... Restrictions: Only permitted in AUTHORIZATION state.",
    ),
}


class CatalogError(Exception):
    """The Markdown catalog does not have the expected shape."""


@dataclass
class _Entry:
    id: str
    heading: str
    line: int
    body: list[str]


def _split_entries(markdown: str) -> list[_Entry]:
    entries: list[_Entry] = []
    current: _Entry | None = None
    for number, line in enumerate(markdown.splitlines(), start=1):
        match = HEADING.match(line)
        if match:
            current = _Entry(match["id"], match["rest"], number, [])
            entries.append(current)
        elif current is not None:
            # A heading of any kind or a rule ends the entry's block.
            if line.startswith(("#", "---")):
                current = None
            else:
                current.body.append(line)
    return entries


def _heading_fields(entry: _Entry) -> tuple[str, str, list[str]]:
    """(section field, level text, flag brackets) from the text after the ID."""
    fields = [f.strip() for f in entry.heading.split("·")]
    if not fields or fields[0] != "":
        raise CatalogError(f"line {entry.line}: {entry.id}: heading does not continue with ' · '")
    fields = fields[1:]
    flags: list[str] = []
    # Flags are the trailing field(s) that consist of brackets only; a
    # bracket inside the level text would be a catalog error caught below.
    while fields and (fields[-1] == "" or fields[-1].startswith("[")):
        if fields[-1]:
            flags.insert(0, fields[-1])
        fields.pop()
    if len(fields) == 2:
        return fields[0], fields[1], flags
    if len(fields) == 1:
        # RFC 1957 entries have no section field: "**RFC1957-1** · info".
        return "", fields[0], flags
    raise CatalogError(f"line {entry.line}: {entry.id}: expected 'section · level', got {fields!r}")


def _flags(entry: _Entry, brackets: list[str]) -> tuple[list[str], str]:
    """The flag keywords, and any note written after them (" — see 5.LIST-5 ...")."""
    found: list[str] = []
    notes: list[str] = []
    for text in brackets:
        body, dash, note = text.partition(" — ")
        if dash:
            notes.append(note.strip())
        # Text outside brackets ("(+[2S] variant)") still names a need.
        for match in FLAG_BRACKET.finditer(body):
            inner = match["body"].strip()
            if inner in FLAG_QUALIFIED:
                flag = FLAG_QUALIFIED[inner]
            else:
                keyword = FLAG_KEYWORD.match(inner)
                flag = keyword.group(0) if keyword else None
                # "[PASSIVE in TRANSACTION]" is PASSIVE; "[TLS-related]" is not
                # TLS, so a keyword glued to more text must be listed explicitly.
                if keyword and inner[keyword.end() : keyword.end() + 1] not in ("", " ", ":"):
                    flag = None
                if flag not in KNOWN_FLAGS:
                    raise CatalogError(f"line {entry.line}: {entry.id}: unknown flag [{inner}]")
            if flag is not None and flag not in found:
                found.append(flag)
        leftover = FLAG_BRACKET.sub("", body).strip()
        if leftover and not re.fullmatch(r"\(\+\s*variant\)", leftover):
            raise CatalogError(f"line {entry.line}: {entry.id}: unexpected text in flags {text!r}")
    return found, " ".join(notes)


def _section(entry: _Entry, section_field: str, id_section: str | None) -> str:
    if not section_field:
        # No section in the heading (RFC 1957); use the ID's, if it has one.
        return id_section or ""
    numbers: list[str] = [m["num"] for m in SECTION_NUMBER.finditer(section_field)]
    if not numbers:
        raise CatalogError(f"line {entry.line}: {entry.id}: no '§n' in section {section_field!r}")
    # "§4/§5" or "§5 LIST + §11": the entry cites several sections; the one
    # its ID is filed under is the one it belongs to.
    if id_section is not None and id_section in numbers:
        return id_section
    return numbers[0]


def strip_single_quote(text: str) -> str:
    """Drop the surrounding double quotes when the text is one quoted passage."""
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        inner = text[1:-1]
        if not QUOTE_SEPARATOR.search(inner):
            return inner
    return text


def _text_and_test(entry: _Entry) -> tuple[str, str]:
    quote: list[str] = []
    test: list[str] = []
    for line in entry.body:
        if test:
            if not line.strip():
                break
            test.append(line.rstrip())
        elif TEST_LINE.match(line):
            test.append(line.rstrip())
        elif line.strip():
            quote.append(line.strip())
    if not test:
        raise CatalogError(f"line {entry.line}: {entry.id}: no 'Test' paragraph")
    first = test[0]
    if first.startswith("Test:"):
        test[0] = first[len("Test:") :].strip()
    return strip_single_quote(" ".join(quote)), "\n".join(test)


def _reviewed(
    table: Mapping[str, tuple[Any, ...]], name: str, what: str, req_id: str, level: str
) -> tuple[Any, ...] | None:
    """The entry of a reviewed table for ``req_id``, if any; its first field is the
    level text it was reviewed against, which must still be the catalog's."""
    entry = table.get(req_id)
    if entry is not None and entry[0] != level:
        raise CatalogError(
            f"{req_id}: {what} was reviewed for level {entry[0]!r} "
            f"but the catalog now says {level!r}; review {name}"
        )
    return entry


def grade_of(req_id: str, level: str) -> Level:
    """The grading level: Level.parse, unless a reviewed override applies."""
    override = _reviewed(GRADE_OVERRIDES, "GRADE_OVERRIDES", "grade override", req_id, level)
    if override is None:
        return Level.parse(level)
    grade: Level = override[1]
    return grade


def note_of(req_id: str, level: str) -> str:
    """The harness's own note for an entry (NOTES), checked against the reviewed level."""
    added = _reviewed(NOTES, "NOTES", "the note", req_id, level)
    note: str = "" if added is None else added[1]
    return note


def implied_quote(req_id: str, level: str) -> str:
    """The RFC passage an unquoted implied entry rests on (IMPLIED_QUOTES), or ""."""
    added = _reviewed(IMPLIED_QUOTES, "IMPLIED_QUOTES", "the quote", req_id, level)
    quote: str = "" if added is None else added[1]
    return quote


def parse_catalog(markdown: str, expected: int | None = EXPECTED_COUNT) -> list[dict[str, Any]]:
    """Parse the Markdown catalog into JSON-ready requirement dicts, in catalog order.

    ``expected`` is the number of entries the whole catalog has; ``None``
    parses an excerpt (tests), which skips the count and the check that
    every grade override still names an entry.
    """
    problems: list[str] = []
    result: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for entry in _split_entries(markdown):
        try:
            shape = ID_SHAPE.match(entry.id)
            if shape is None:
                raise CatalogError(f"line {entry.line}: {entry.id}: ID does not follow the scheme")
            if entry.id in seen:
                raise CatalogError(
                    f"line {entry.line}: {entry.id}: duplicate ID (first at line {seen[entry.id]})"
                )
            seen[entry.id] = entry.line
            section_field, level, brackets = _heading_fields(entry)
            text, test = _text_and_test(entry)
            if not text:
                text = implied_quote(entry.id, level)
            flags, note = _flags(entry, brackets)
            note = " ".join(filter(None, (note, note_of(entry.id, level))))
            rfc = shape["rfc"]
            grade = Level.INFO if rfc == "1957" else grade_of(entry.id, level)
            result.append(
                {
                    "id": entry.id,
                    "rfc": rfc,
                    "section": _section(entry, section_field, shape["section"]),
                    "level": level,
                    "grade": grade.value,
                    "text": text,
                    "flags": flags,
                    "test": test,
                    "note": note,
                }
            )
        except CatalogError as exc:
            problems.append(str(exc))
    if expected is not None:
        # Checks that only make sense for the whole catalog, not an excerpt.
        unused = sorted((set(GRADE_OVERRIDES) | set(NOTES) | set(IMPLIED_QUOTES)) - set(seen))
        problems.extend(f"{u}: an override or note for an ID no longer there" for u in unused)
        if len(seen) != expected:
            problems.append(f"found {len(seen)} requirement entries, expected {expected}")
    if problems:
        raise CatalogError("\n".join(problems))
    return result


def write_json(requirements: list[dict[str, Any]], path: Path) -> None:
    """Write atomically, so that a failed run never leaves half a catalog behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(requirements, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_INPUT)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    try:
        requirements = parse_catalog(args.source.read_text(encoding="utf-8"))
    except (CatalogError, OSError) as exc:
        print(f"build_catalog: {args.source}:\n{exc}", file=sys.stderr)
        return 1
    write_json(requirements, args.output)
    counts: dict[str, int] = {}
    for r in requirements:
        counts[r["grade"]] = counts.get(r["grade"], 0) + 1
    summary = ", ".join(f"{n} {g}" for g, n in sorted(counts.items()))
    print(f"wrote {len(requirements)} requirements to {args.output} ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
