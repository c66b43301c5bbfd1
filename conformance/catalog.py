"""The requirement catalog, as shipped package data.

``conformance/data/requirements.json`` is generated from the Markdown
catalog by ``tools/build_catalog.py``; this module only reads it.  Reports
use it to quote a requirement's sentence and to file a result under its RFC
section, and the loader uses it to reject unknown requirement IDs.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources

from conformance.outcomes import Level

# RFC<nnnn>-<section>[.<CMD>]-<n>; RFC 1957 has no sections: RFC1957-<n>.
_ID_SECTION = re.compile(r"^RFC(?P<rfc>\d{4})-(?:(?P<section>\d+(?:\.\d+)*)(?:\.[A-Z0-9]+)?-)?\d+$")


@dataclass(frozen=True)
class Requirement:
    id: str
    rfc: str  # "1939"
    section: str  # the RFC's own section ("5", "6.4"); "" where the RFC has none
    level: str  # the catalog's level text, e.g. "MUST (pre-2119)" or "implied"
    grade: Level  # what breaking it grades as (see Level.outcome_when_broken)
    text: str  # the quoted RFC sentence(s)
    flags: tuple[str, ...]  # needs: "2S", "MB", "DROP", "PASSIVE", "TLS", ...
    test: str  # the catalog's test sketch
    note: str = ""  # a remark the catalog makes in the heading, if any


@functools.cache
def load_catalog() -> dict[str, Requirement]:
    """All requirements by ID, in catalog order (read once per process)."""
    raw = resources.files("conformance.data").joinpath("requirements.json").read_text("utf-8")
    catalog: dict[str, Requirement] = {}
    for d in json.loads(raw):
        catalog[d["id"]] = Requirement(
            id=d["id"],
            rfc=d["rfc"],
            section=d["section"],
            level=d["level"],
            grade=Level(d["grade"]),
            text=d["text"],
            flags=tuple(d["flags"]),
            test=d["test"],
            note=d.get("note", ""),
        )
    return catalog


def requirement(req_id: str) -> Requirement:
    """The requirement with this ID; KeyError naming near matches otherwise."""
    catalog = load_catalog()
    try:
        return catalog[req_id]
    except KeyError:
        raise KeyError(_unknown_message(req_id, catalog)) from None


def _unknown_message(req_id: str, catalog: dict[str, Requirement]) -> str:
    # Suggest IDs in the same RFC section, the usual typo being the counter.
    prefix = req_id.rsplit("-", 1)[0] + "-"
    near = [k for k in catalog if k.startswith(prefix)]
    if not near:
        near = [k for k in catalog if k.upper() == req_id.upper()]
    hint = f"; did you mean one of: {', '.join(near[:8])}" if near else ""
    return (
        f"unknown requirement ID {req_id!r} (IDs look like RFC1939-5.DELE-1; "
        f"see conformance/data/requirements.json){hint}"
    )


def section_of(req_id: str) -> str:
    """The RFC section a requirement is filed under, e.g. "RFC1939 §5".

    Taken from the catalog when the ID is known (the catalog may cite a
    subsection, e.g. RFC6856-3-1 is in §3.1), otherwise parsed from the ID,
    so that a report can still group a result with a mistyped ID.  Sections
    are never invented: an RFC without numbered sections (RFC 1957) gives
    just "RFC1957", and an ID of an unknown shape is returned unchanged.
    """
    known = load_catalog().get(req_id)
    if known is not None:
        rfc, section = known.rfc, known.section
    else:
        match = _ID_SECTION.match(req_id)
        if match is None:
            return req_id
        rfc, section = match["rfc"], match["section"] or ""
    return f"RFC{rfc} §{section}" if section else f"RFC{rfc}"
