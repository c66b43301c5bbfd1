"""Commands and the answers that judge them: ``C:``, ``raw:``, ``read``, ``S:`` and ``body``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from conformance.outcomes import Outcome
from conformance.placeholders import PLACEHOLDER, PlaceholderError, expand, expand_raw
from conformance.pop3 import apop_timestamp
from conformance.runner import checks
from conformance.runner.permitted import lock_left_behind, permitted_close
from conformance.scenario import steps as st
from conformance.transcript import redact_command
from conformance.verdicts import grade_check

if TYPE_CHECKING:
    from conformance.runner.run import InFlight, ScenarioRun, Slot


def check(run: ScenarioRun, step: st.Check) -> None:
    run.requirement = step.requirement


def send(run: ScenarioRun, step: st.Send) -> None:
    sent = send_ahead(run, step)
    if sent is not None:
        run.receive(sent)


def send_ahead(run: ScenarioRun, step: st.Send) -> InFlight | None:
    """Send the step's line and leave its answer unread (None for ``raw:`` bytes,
    whose answers the ``S:`` lines that follow read)."""
    slot = run.slot(step.session, step)
    values = session_values(run, slot)
    try:
        if step.raw:
            data = step.data
            if PLACEHOLDER.search(step.text):
                data = expand_raw(step.text, run.accounts, slot.model, values, run.secrets)
            run.in_clear(slot)
            slot.session.send_raw(data)
            run.last = None
            return None
        line = expand(step.text, run.accounts, slot.model, values, run.secrets)
    except PlaceholderError as exc:
        run.error(step, str(exc))
    return run.send_command(slot, line)


def session_values(run: ScenarioRun, slot: Slot) -> dict[str, str]:
    """What {apop} and {cram} are computed from: the greeting and the last challenge."""
    values: dict[str, str] = {}
    stamp = apop_timestamp(slot.greeting)
    if stamp:
        values["timestamp"] = stamp
    last = run.judged if run.last is None else run.last
    label = slot.session.label
    if last is not None and last.session == label and last.response.kind == "continuation":
        values["challenge"] = (last.response.text or "").strip()
    return values


def read(run: ScenarioRun, step: st.Read) -> None:
    slot = run.slot(step.session, step)
    if not slot.session.connection.awaiting:
        run.error(step, "'read' has no answer to wait for: no 'raw:' batch is pending")
    # The S: block that follows reads the next queued answer.
    run.last = None


def expect(run: ScenarioRun, step: st.Expect) -> None:
    if run.last is None or run.last.session != run.current:
        slot = run.slot(None, step)
        if not slot.session.connection.awaiting:
            run.error(step, "S: has no command to answer (C: or raw: first)")
        # The next answer of a raw: batch (pipelined, or sent in pieces).
        run.after_answer(slot, slot.session.read_answer())
    last = run.last
    assert last is not None
    owner = run.slots.get(last.session)
    model = owner.model if owner is not None else None
    words: list[list[str]] = []
    for alt in step.alternatives:
        try:
            words.append([expand(w, run.accounts, model, secrets=run.secrets) for w in alt.words])
        except PlaceholderError as exc:
            run.error(step, str(exc))
    graded, matched = grade_check(
        req_id=run.requirement,
        alternatives=step.alternatives,
        response=last.response,
        expanded_words=words,
        model_discrepancies=lambda: last.discrepancies,
        model_requirement=last.model_requirement,
        model_expected=last.model_expected,
        capabilities=run.profile.capabilities,
        labels=run.labels,
        where=str(step.where),
        keyword=last.line.split(" ", 1)[0] if last.line else "",
    )
    if graded.outcome in (Outcome.FAIL, Outcome.NON_STRICT) and owner is not None:
        # One runner rule for a behaviour RFC 1939 section 4 permits in every
        # scenario: a close right after an -ERR in AUTHORIZATION.
        permitted = permitted_close(owner, last.response, str(step.where))
        if permitted is not None:
            graded = permitted
    if owner is not None:
        graded = lock_left_behind(run, last.session, owner, last.response, graded) or graded
    graded.command = redact_command(last.line)
    run.checks.append(graded)
    if matched is not None and matched.label:
        run.labels.add(matched.label)
    # An answer is judged once: a second S: block needs a new C:.
    run.judged = last
    run.last = None
    if last.response.kind == "closed":
        from conformance.runner.session_steps import forget  # (a cycle; and only here)

        run.closes.server_closed(last.session)
        run.gone.setdefault(last.session, f"session {last.session}: closed by the server")
        forget(run, last.session)


BODY_WANTED = {
    "has": "a line matching /{}/",
    "lacks": "no line matching /{}/",
    "all": "every line matching /{}/",
}


def body(run: ScenarioRun, step: st.Body) -> None:
    judged = run.judged
    if judged is None or judged.session != run.current:
        run.error(step, "'body' has no judged answer to inspect (C: and S: first)")
    response = judged.response
    wanted = BODY_WANTED[step.mode].format(step.pattern)
    where = str(step.where)
    if response.kind != "multi" or not response.ok:
        run.checks.append(checks.nothing_to_inspect(run.requirement, wanted, response, where))
        return
    lines = [ln.decode("utf-8", errors="replace") for ln in response.lines]
    if step.header_only and "" in lines:
        # The header block of the message: up to the first empty line.
        lines = lines[: lines.index("")]
    regex = re.compile(step.pattern)
    hits = [ln for ln in lines if regex.search(ln)]
    misses = [ln for ln in lines if not regex.search(ln)]
    if step.mode == "has":
        ok, shown = bool(hits), f"none of {len(lines)} lines matches"
    elif step.mode == "lacks":
        ok, shown = not hits, f"{len(hits)} matching: {hits[:3]!r}"
    else:
        ok, shown = not misses, f"{len(misses)} not matching: {misses[:3]!r}"
    if response.truncated:
        shown += f" (of the first {len(lines)} lines kept; the body had {response.line_count})"
    actual = f"{len(lines)} lines" if ok else shown
    run.checks.append(checks.body_lines(run.requirement, ok, wanted, actual, where))


def when(run: ScenarioRun, step: st.When) -> None:
    cond = step.condition
    held = run.profile.advertises(cond.name) if cond.kind == "capa" else cond.name in run.labels
    if held != cond.negate:
        run.perform_steps(step.body)
