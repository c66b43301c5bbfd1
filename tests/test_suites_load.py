"""Every shipped scenario file loads, and the core suites keep their own rules.

The loader checks the grammar; these tests check the suites as data: unique
ids, requirement IDs that exist in the catalog, and the conventions of
suites/core (ids named after their folder, checks citing listed
requirements, destructive scenarios declared, optional commands guarded).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.messages import corpus
from conformance.scenario import Scenario, discover, load_all
from conformance.scenario.steps import (
    Check,
    Condition,
    End,
    Eventually,
    Expect,
    Login,
    Send,
    Step,
    When,
)

ROOT = Path(__file__).resolve().parent.parent
SUITES = ROOT / "suites"
CORE = SUITES / "core"
CATALOG_JSON = ROOT / "conformance" / "data" / "requirements.json"
# The Markdown catalog sits beside the repository (shared/) on a developer's
# machine and in CI; the JSON one is generated from it and shipped.
CATALOG_MD = ROOT.parent / "shared" / "requirements.md"
HEADING = re.compile(r"^\*\*(RFC[0-9A-Z.-]+)\*\*", re.MULTILINE)
CORE_FOLDERS = ("basic", "state", "locking", "deletion", "drop", "arguments", "sizes")


def catalog_ids() -> set[str]:
    if CATALOG_JSON.is_file():
        return {entry["id"] for entry in json.loads(CATALOG_JSON.read_text("utf-8"))}
    if CATALOG_MD.is_file():
        return set(HEADING.findall(CATALOG_MD.read_text("utf-8")))
    pytest.skip("no requirement catalog (conformance/data/requirements.json or shared/)")


def walk(steps: list[Step] | tuple[Step, ...]) -> Iterator[tuple[Step, tuple[Condition, ...]]]:
    """Every step, depth first, with the conditions of the when blocks around it."""

    def go(
        items: list[Step] | tuple[Step, ...], conds: tuple[Condition, ...]
    ) -> Iterator[tuple[Step, tuple[Condition, ...]]]:
        for step in items:
            yield step, conds
            if isinstance(step, When):
                yield from go(step.body, (*conds, step.condition))

    return go(steps, ())


def keyword(step: Step) -> str:
    if isinstance(step, Send) and not step.raw:
        return step.text.split(" ")[0].upper()
    return ""


@pytest.fixture(scope="module")
def loaded() -> list[Scenario]:
    scenarios, errors = load_all([SUITES])
    assert not errors, "\n".join(str(e) for e in errors)
    return scenarios


@pytest.fixture(scope="module")
def core(loaded: list[Scenario]) -> list[Scenario]:
    return [s for s in loaded if Path(s.file).is_relative_to(CORE)]


def test_every_file_loads_and_ids_are_unique(loaded: list[Scenario]) -> None:
    assert len(loaded) == len(discover([SUITES]))
    ids = [s.id for s in loaded]
    assert len(ids) == len(set(ids))


def test_enough_scenarios(loaded: list[Scenario], core: list[Scenario]) -> None:
    assert len(core) >= 45
    assert len(loaded) >= 45


def test_every_scenario_cites_catalog_requirements(loaded: list[Scenario]) -> None:
    known = catalog_ids()
    assert len(known) > 150  # the catalog was really read
    unknown: dict[str, list[str]] = {}
    for s in loaded:
        assert s.requirements, s.id
        cited = list(s.requirements)
        cited += [step.requirement for step, _ in walk(s.steps) if isinstance(step, Check)]
        missing = [r for r in cited if r not in known]
        if missing:
            unknown[s.id] = missing
    assert not unknown


def test_core_layout_and_prose(core: list[Scenario]) -> None:
    for s in core:
        path = Path(s.file)
        folder = path.parent.relative_to(CORE).as_posix()
        assert folder in CORE_FOLDERS, s.file
        assert s.id == f"core.{folder}.{path.stem}", s.file
        assert s.description and s.expectation, s.id
        assert "core" in s.tags and folder in s.tags, s.id


def test_core_checks_cite_listed_requirements(core: list[Scenario]) -> None:
    for s in core:
        for step, _ in walk(s.steps):
            if isinstance(step, Check):
                assert step.requirement in s.requirements, f"{step.where}: {step.requirement}"


def test_core_every_scenario_checks_something(core: list[Scenario]) -> None:
    graded = (Expect, End, Eventually)
    for s in core:
        assert any(isinstance(step, graded) for step, _ in walk(s.steps)), s.id


def test_core_quit_after_dele_is_destructive(core: list[Scenario]) -> None:
    for s in core:
        logged_in = deleted = False
        for step, _ in walk(s.steps):
            logged_in = logged_in or isinstance(step, (Login, Eventually))
            # A DELE before any login is refused (AUTHORIZATION) and marks nothing.
            if keyword(step) == "DELE" and logged_in:
                deleted = True
            quits = keyword(step) == "QUIT" or (isinstance(step, End) and step.how == "quit")
            if deleted and quits:
                assert s.destructive, f"{step.where}: QUIT after DELE in a non-destructive scenario"


def test_core_model_needs_known_content(core: list[Scenario]) -> None:
    # With "mailbox: none" there is no model, and "S: model" would judge nothing.
    for s in core:
        if s.mailbox != "none":
            continue
        for step, _ in walk(s.steps):
            if isinstance(step, Expect):
                assert all(a.form != "model" for a in step.alternatives), step.where


def test_core_optional_commands_are_needed_or_guarded(core: list[Scenario]) -> None:
    """TOP and UIDL after login run only where the server has them (needs: or when capa),
    unless only the model judges the answer: it takes a refusal from a server that does
    not implement the command (ServerProfile.implements)."""
    for s in core:
        logged_in = False
        steps = [*walk(s.steps), (None, ())]
        for (step, conds), (nxt, _) in itertools.pairwise(steps):
            if isinstance(step, (Login, Eventually)):
                logged_in = True
            assert step is not None
            word = keyword(step)
            by_model = isinstance(nxt, Expect) and all(a.form == "model" for a in nxt.alternatives)
            if logged_in and word in ("TOP", "UIDL") and not by_model:
                guarded = any(c.kind == "capa" and c.name == word and not c.negate for c in conds)
                assert word in s.needs or guarded, f"{step.where}: {word} without needs/when capa"


def test_core_user_pass_by_hand_needs_user(core: list[Scenario]) -> None:
    for s in core:
        steps = [step for step, _ in walk(s.steps)]
        for step, nxt in itertools.pairwise(steps):
            expects_ok = isinstance(nxt, Expect) and nxt.alternatives[0].status == "+OK"
            if keyword(step) == "USER" and expects_ok:
                assert "USER" in s.needs, f"{step.where}: USER expected to succeed"


def test_core_second_logins_wait_for_slow_locks(core: list[Scenario]) -> None:
    # Dovecot answers a login to a locked maildrop only after about 10 s; a
    # retried login after a drop may meet such a lock too.
    for s in core:
        if "two-sessions" in s.tags or any(isinstance(st, Eventually) for st, _ in walk(s.steps)):
            assert s.timeout is not None and s.timeout >= 20, s.id


def test_core_corpus_assumptions_hold(core: list[Scenario]) -> None:
    """The suites name standard-corpus messages by number: 7 messages, the last over 1 MB."""
    standard = corpus("standard")
    assert len(standard) == 7
    assert standard[-1].size > 1_000_000
    assert len(corpus("small")) == 3
    assert corpus("empty") == []
    mid_retr = [
        (s, step)
        for s in core
        for step, _ in walk(s.steps)
        if isinstance(step, End) and step.how == "mid-retr"
    ]
    assert mid_retr
    for s, step in mid_retr:
        assert s.mailbox == "standard", s.id
        assert step.message == len(standard), step.where
