"""The requirement catalog: the generated package data and the builder that makes it."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from conformance.catalog import Requirement, load_catalog, requirement, section_of
from conformance.outcomes import Level
from tests.tool_loader import load_tool

REPO = Path(__file__).resolve().parent.parent
SHARED_CATALOG = REPO.parent / "shared" / "requirements.md"


build_catalog = load_tool("build_catalog")


def _raw() -> list[dict[str, object]]:
    text = resources.files("conformance.data").joinpath("requirements.json").read_text("utf-8")
    data: list[dict[str, object]] = json.loads(text)
    return data


# --- the shipped catalog ------------------------------------------------------


def test_catalog_has_all_203_requirements_with_unique_ids() -> None:
    raw = _raw()
    ids = [r["id"] for r in raw]
    assert len(ids) == 203
    assert len(set(ids)) == 203
    assert len(load_catalog()) == 203


def test_every_entry_is_complete() -> None:
    for req in load_catalog().values():
        assert req.rfc in {"1939", "2449", "3206", "2595", "5034", "1734", "6856", "8314", "1957"}
        assert req.id.startswith(f"RFC{req.rfc}-")
        assert req.level, req.id
        assert req.test, req.id
        assert isinstance(req.grade, Level)
        assert set(req.flags) <= set(build_catalog.KNOWN_FLAGS), req.id
        if req.rfc != "1957":
            assert req.section, req.id


@pytest.mark.parametrize(
    ("req_id", "grade"),
    [
        ("RFC1939-3-7", Level.MUST),  # "MUST (pre-2119)"
        ("RFC1939-7.UIDL-6", Level.SHOULD),  # lower-case "should"
        ("RFC1939-3-14", Level.MAY),
        ("RFC1939-5.DELE-1", Level.MUST),  # "implied"
        ("RFC1939-3-17", Level.MUST),  # implied-MUST ("does NOT") + should
        ("RFC1939-5.STAT-4", Level.SHOULD),  # advisory ("STRONGLY discourages")
        ("RFC1939-6.QUIT-2", Level.MUST),  # may (MUST-equivalent "In no case may")
        ("RFC5034-4-3", Level.MUST),  # may ("may only")
        ("RFC5034-4-15", Level.MUST),  # SHOULD / MUST
        ("RFC2595-6-1", Level.SHOULD),  # MUST NOT with an escape clause
        ("RFC2595-2.1-1", Level.INFO),  # REQUIRED (historic)
        ("RFC3206-5-3", Level.SHOULD),  # RECOMMENDED (NOT)
        ("RFC1957-1", Level.INFO),
        ("RFC1957-2", Level.INFO),
        ("RFC1957-3", Level.INFO),
    ],
)
def test_known_grades(req_id: str, grade: Level) -> None:
    assert requirement(req_id).grade is grade


def test_grade_is_level_parse_unless_reviewed() -> None:
    overrides = build_catalog.GRADE_OVERRIDES
    for req in load_catalog().values():
        if req.id in overrides:
            reviewed_level, reviewed_grade, _why = overrides[req.id]
            assert req.level == reviewed_level
            assert req.grade is reviewed_grade
        elif req.rfc == "1957":
            assert req.grade is Level.INFO
        else:
            assert req.grade is Level.parse(req.level), req.id


def test_entry_fields_come_from_the_markdown() -> None:
    req = requirement("RFC1939-3-7")
    assert req == Requirement(
        id="RFC1939-3-7",
        rfc="1939",
        section="3",
        level="MUST (pre-2119)",
        grade=Level.MUST,
        text='Servers MUST send the "+OK" and "-ERR" in upper case.',
        flags=("PASSIVE",),
        test="every status indicator is exactly `+OK` or `-ERR` (byte compare). "
        "→ FAIL on `+ok`, `-Err`, etc.",
    )
    # Several quoted passages keep their quotes; a lone one loses them.
    assert requirement("RFC1939-5.LIST-6").text.startswith('"a message-number (optional)')
    assert requirement("RFC1939-5.LIST-6").text.endswith('are not listed."')
    # The entry quotes nothing: the RFC passage it is implied from stands in
    # (tools/build_catalog.py IMPLIED_QUOTES), so that a fail carries a quote.
    assert requirement("RFC1939-5.LIST-7").text.endswith("-ERR no such message")
    assert all(r.text for r in load_catalog().values() if r.grade is not Level.INFO)
    assert requirement("RFC1939-3-17").flags == ("SLOW", "DROP", "MB")
    assert "2S" in requirement("RFC1939-5.DELE-3").flags  # "(+[2S] variant)"
    assert requirement("RFC1939-13-2").flags == ()  # "[TLS-related]" needs no TLS
    assert requirement("RFC2449-6.5-1").flags == ("CFG", "SLOW")  # "[SLOW-ish]"
    assert requirement("RFC1939-11-1").note.startswith("see 5.LIST-5")
    # A multi-line test sketch keeps its lines.
    assert requirement("RFC1939-6-2").test.count("\n") == 2


def test_sections() -> None:
    assert requirement("RFC1939-5.DELE-4").section == "5"  # cites §4/§5, filed under §5
    assert requirement("RFC1939-3-2").section == "3"  # §3/§4
    assert requirement("RFC6856-3-1").section == "3.1"  # the entry's own section
    assert requirement("RFC1734-2-1").section == "2"
    assert requirement("RFC1957-2").section == ""
    assert section_of("RFC1939-5.DELE-1") == "RFC1939 §5"
    assert section_of("RFC2449-6.4-1") == "RFC2449 §6.4"
    assert section_of("RFC6856-3-1") == "RFC6856 §3.1"
    assert section_of("RFC1957-3") == "RFC1957"
    # Unknown IDs are still grouped by what their ID says, never invented.
    assert section_of("RFC1939-99.FOO-1") == "RFC1939 §99"
    assert section_of("RFC9999-1") == "RFC9999"
    assert section_of("not-an-id") == "not-an-id"


def test_unknown_requirement_error_suggests_neighbours() -> None:
    with pytest.raises(KeyError) as info:
        requirement("RFC1939-5.DELE-9")
    message = str(info.value)
    assert "RFC1939-5.DELE-9" in message
    assert "RFC1939-5.DELE-1" in message
    with pytest.raises(KeyError, match="IDs look like"):
        requirement("nonsense")


def test_load_catalog_is_cached() -> None:
    assert load_catalog() is load_catalog()


@pytest.mark.skipif(not SHARED_CATALOG.exists(), reason="needs ../shared/requirements.md")
def test_generated_json_is_up_to_date() -> None:
    built = build_catalog.parse_catalog(SHARED_CATALOG.read_text(encoding="utf-8"))
    assert built == _raw()


# --- the builder on small catalogs --------------------------------------------

_GOOD = """\
# Catalog

**RFC1939-5.DELE-1** · §5 DELE · implied · [MB][DROP]
"The POP3 server marks the message as deleted."
Test: `DELE 1` → `+OK`.

**RFC1939-7.UIDL-6** · §7 UIDL · should · [MB] [PASSIVE in TRANSACTION]
"The server should never reuse an unique-id."
Test (variant): first line
- second line

**RFC1957-2** · info
"Netscape requires UIDL."
Test: INFO.
"""


def test_builder_parses_entries() -> None:
    entries = build_catalog.parse_catalog(_GOOD, expected=None)
    assert [e["id"] for e in entries] == ["RFC1939-5.DELE-1", "RFC1939-7.UIDL-6", "RFC1957-2"]
    dele, uidl, obs = entries
    assert dele["flags"] == ["MB", "DROP"]
    assert dele["text"] == "The POP3 server marks the message as deleted."
    assert dele["test"] == "`DELE 1` → `+OK`."
    assert dele["grade"] == "MUST"
    assert uidl["grade"] == "SHOULD"
    assert uidl["flags"] == ["MB", "PASSIVE"]
    assert uidl["test"] == "Test (variant): first line\n- second line"
    assert obs["section"] == "" and obs["grade"] == "info" and obs["level"] == "info"


def test_builder_fails_on_wrong_count() -> None:
    with pytest.raises(build_catalog.CatalogError, match="found 3 requirement entries, expected 4"):
        build_catalog.parse_catalog(_GOOD, expected=4)


def test_builder_fails_on_duplicate_ids() -> None:
    doubled = _GOOD + "\n" + _GOOD.split("\n\n")[1] + "\n"
    with pytest.raises(build_catalog.CatalogError, match="duplicate ID"):
        build_catalog.parse_catalog(doubled, expected=None)


def test_builder_fails_on_unknown_flag_and_missing_test() -> None:
    bad = '**RFC1939-3-1** · §3 · implied · [WEIRD]\n"x"\nTest: y\n'
    with pytest.raises(build_catalog.CatalogError, match=r"unknown flag \[WEIRD\]"):
        build_catalog.parse_catalog(bad, expected=None)
    with pytest.raises(build_catalog.CatalogError, match="no 'Test' paragraph"):
        build_catalog.parse_catalog('**RFC1939-3-1** · §3 · implied\n"x"\n', expected=None)


def test_the_argument_rule_is_noted_on_rfc1939_3_12() -> None:
    entry = '**RFC1939-3-12** · §3 · MUST (pre-2119)\n"x"\nTest: y\n'
    note = build_catalog.parse_catalog(entry, expected=None)[0]["note"]
    assert "docs/state-machine.md" in note and "RFC1939-3-5" in note
    assert "no longer applies" in load_catalog()["RFC1939-3-12"].note
    changed = entry.replace("MUST (pre-2119)", "implied")
    with pytest.raises(build_catalog.CatalogError, match="review NOTES"):
        build_catalog.parse_catalog(changed, expected=None)


def test_builder_rechecks_overrides_against_the_level_text() -> None:
    # RFC1939-6.QUIT-2 is overridden for its "In no case may" level text; if
    # the catalog changes the text, the override must be reviewed again.
    changed = '**RFC1939-6.QUIT-2** · §6 QUIT · may · [MB]\n"x"\nTest: y\n'
    with pytest.raises(build_catalog.CatalogError, match="review GRADE_OVERRIDES"):
        build_catalog.parse_catalog(changed, expected=None)


def test_builder_main_writes_json(tmp_path: Path) -> None:
    if not SHARED_CATALOG.exists():
        pytest.skip("needs ../shared/requirements.md")
    out = tmp_path / "requirements.json"
    assert build_catalog.main([str(SHARED_CATALOG), "--output", str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8")) == _raw()
    bad = tmp_path / "bad.md"
    bad.write_text(_GOOD, encoding="utf-8")
    assert build_catalog.main([str(bad), "--output", str(tmp_path / "x.json")]) == 1
    assert not (tmp_path / "x.json").exists()


def test_apop_counts_as_offered_when_the_greeting_has_a_timestamp() -> None:
    from conformance.probe import ServerProfile

    with_stamp = ServerProfile("+OK <1.2@h>", True, ("USER",), frozenset({"USER"}), "<1.2@h>")
    without = ServerProfile("+OK ready", True, ("USER",), frozenset({"USER"}))
    assert with_stamp.missing(["APOP"]) == []
    assert without.missing(["APOP"]) == ["APOP"]
    # Without CAPA the other RFC 1939 optional commands are assumed, but not
    # APOP: with no timestamp there is no digest to compute (popa3d greets "+OK").
    no_capa = ServerProfile("+OK", False, (), frozenset())
    assert no_capa.missing(["TOP", "APOP"]) == ["APOP"]
    stamped = ServerProfile("+OK <3.4@h>", False, (), frozenset(), "<3.4@h>")
    assert stamped.missing(["APOP"]) == []


def test_a_capability_argument_can_be_needed() -> None:
    from conformance.pop3 import capability_names
    from conformance.probe import ServerProfile

    lines = ("USER", "SASL PLAIN CRAM-MD5")
    profile = ServerProfile("+OK", True, lines, capability_names(list(lines)))
    assert profile.advertises("sasl=cram-md5") and profile.advertises("SASL")
    assert profile.missing(["SASL=LOGIN", "SASL=PLAIN"]) == ["SASL=LOGIN"]
