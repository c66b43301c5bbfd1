"""The parts of ``pop3-conformance stress`` that need no Locust: flags, marked
messages, the ledger and its verdicts, charts and the page.

Nothing here may import Locust (it monkey-patches the process with gevent):
the last test checks that none of it did.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conformance.cli import main
from conformance.exits import EXIT_USAGE
from conformance.outcomes import Outcome
from conformance.report.charts import Series, line_chart, nice_step
from conformance.report.load import render_load_page, render_load_text
from conformance.results import RunResult, TranscriptEntry
from conformance.secrets import Secrets
from conformance.server.defects import DEFECTS, listing
from conformance.stress import marked
from conformance.stress import observations as obs
from conformance.stress.invariants import INVARIANTS, grade, harness_errors
from conformance.stress.ledger import Ledger
from conformance.stress.options import mix, run_time
from conformance.stress.reading import Reading

RUN = "r1"


# -- flags ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "seconds"), [("20", 20), ("20s", 20), ("3m", 180), ("1h30m", 5400), ("1h2m3s", 3723)]
)
def test_run_time_takes_locusts_units(text: str, seconds: int) -> None:
    assert run_time(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "0s", "1d", "5 m", "m", "-3", "1.5s", "nan"])
def test_run_time_refuses_nonsense(text: str) -> None:
    with pytest.raises(Exception, match=r"time span|at least one second"):
        run_time(text)


def test_mix_weights_tasks_and_keeps_defaults() -> None:
    weights = mix("read=1, drop=0")
    assert weights["read"] == 1 and weights["drop"] == 0 and weights["dele-rset"] == 2


@pytest.mark.parametrize(
    "text",
    [
        "reed=1",
        "read",
        "read=-1",
        "read=x",
        "read=1,read=2",
        ",".join(
            f"{t}=0" for t in ("read", "dele-rset", "dele-quit", "drop", "concurrent", "deliver")
        ),
    ],
)
def test_mix_refuses_nonsense(text: str) -> None:
    with pytest.raises(Exception, match=r"NAME=WEIGHT|twice|whole number|nothing would run"):
        mix(text)


@pytest.mark.parametrize(
    "argv",
    [
        ["--users", "0"],
        ["--users", "-4"],
        ["--run-time", "banana"],
        ["--spawn-rate", "nan"],
        ["--spawn-rate", "0"],
        ["--mix", "fly=3"],
        ["--workers", "0"],
        ["--workers", "2", "--master"],
        ["--master", "--worker", "--master-host", "h"],
        ["--worker"],
        ["--master-host", "h"],
        ["--expect-workers", "2"],
        ["--master-port", "0"],
        ["--lock-wait", "inf"],
        ["--worker", "--master-host", "h", "--defect", "no-lock"],
    ],
)
def test_nonsense_values_exit_2_before_anything_starts(argv: list[str]) -> None:
    assert main(["stress", *argv]) == EXIT_USAGE
    assert "locust" not in sys.modules


def test_a_call_from_inside_another_program_neither_execs_nor_patches() -> None:
    # Valid values: only a process started as the command may become the stress process.
    assert main(["stress", "--users", "1", "--run-time", "1s"]) == EXIT_USAGE
    assert "gevent.monkey" not in sys.modules


# -- marked messages ---------------------------------------------------------------------
def test_a_marked_message_names_itself_and_its_owner() -> None:
    message = marked.message(RUN, "alice", "w1-7")
    name = marked.identity(message.header_block)
    assert name == "r1/alice/w1-7" == marked.identity(message.data)
    assert marked.owner(name) == "alice" and marked.of_run(name, RUN)
    assert message.data.endswith(b"\r\n") and b"\n" not in message.data.replace(b"\r\n", b"")


def test_an_unmarked_message_is_named_by_its_headers() -> None:
    one = marked.identity(b"Subject: a\r\n\r\nbody\r\n")
    assert one.startswith(marked.UNMARKED) and marked.owner(one) is None
    assert one == marked.identity(b"Subject: a\r\n\r\nother body\r\n")
    assert one != marked.identity(b"Subject: b\r\n\r\nbody\r\n")


# -- the ledger --------------------------------------------------------------------------
def seeded(*names: str) -> Ledger:
    return Ledger(RUN, {"alice": Reading("alice", [(f"u{n}", f"{RUN}/alice/{n}") for n in names])})


def reading(*names: str) -> Reading:
    entries = [TranscriptEntry(1.0, "END", "C", "STAT")]
    return Reading("alice", [(f"u{n}", f"{RUN}/alice/{n}") for n in names], entries)


def requirements(ledger: Ledger) -> list[str]:
    return sorted(v.requirement for v in ledger.violations)


def test_the_ledger_accepts_a_mailbox_that_matches() -> None:
    ledger = seeded("a", "b")
    ledger.account("alice", reading("a", "b"))
    ledger.judge_unique_ids()
    assert ledger.violations == []


def test_a_message_delivered_during_a_session_and_gone_is_lost_with_the_suspect() -> None:
    ledger = seeded("a")
    ledger.apply(obs.quit_sent("s1", "alice", [], login_t=1.0, t=3.0))
    ledger.apply(obs.delivery("alice", f"{RUN}/alice/new", "pending", 2.0))
    ledger.apply(obs.delivery("alice", f"{RUN}/alice/new", "done", 2.1))
    quit_words = [TranscriptEntry(2900.0, "s1", "C", "QUIT")]
    ledger.apply(obs.quit_answered("s1", "alice", True, 3.1, quit_words))
    ledger.account("alice", reading("a"))
    (lost,) = ledger.violations
    assert lost.requirement == "RFC1939-6.QUIT-2" and lost.invariant == "accounting"
    assert "s1" in lost.note and any(e.session == "s1" for e in lost.transcript)


def test_a_message_removed_at_update_must_be_gone() -> None:
    ledger = seeded("a", "b")
    ledger.apply(obs.quit_sent("s1", "alice", [f"{RUN}/alice/a"], 1.0, 2.0))
    ledger.apply(obs.quit_answered("s1", "alice", True, 2.1, []))
    ledger.account("alice", reading("b"))
    assert ledger.violations == []
    ledger.account("alice", reading("a", "b"))
    assert requirements(ledger) == ["RFC1939-6.QUIT-1"]


def test_a_removal_reported_before_the_delivery_still_counts() -> None:
    # Two workers: one delivers, the other reads and removes the message, and
    # the remover's observations reach the master first.
    ledger = seeded("a")
    ledger.apply(obs.quit_sent("w0s1", "alice", [f"{RUN}/alice/new"], 1.0, 2.0))
    ledger.apply(obs.quit_answered("w0s1", "alice", True, 2.1, []))
    ledger.apply(obs.delivery("alice", f"{RUN}/alice/new", "pending", 0.5))
    ledger.apply(obs.delivery("alice", f"{RUN}/alice/new", "done", 0.6))
    ledger.account("alice", reading("a"))
    assert ledger.violations == []


def test_a_quit_without_its_answer_leaves_the_message_uncertain() -> None:
    for there in (("a", "b"), ("b",)):
        ledger = seeded("a", "b")
        ledger.apply(obs.quit_sent("s1", "alice", [f"{RUN}/alice/a"], 1.0, 2.0))
        ledger.account("alice", reading(*there))
        assert ledger.violations == [], there


@pytest.mark.parametrize(
    ("how", "requirement", "invariant"),
    [("rset", "RFC1939-5.RSET-1", "deletion"), ("rst", "RFC1939-6-2", "deletion")],
)
def test_a_message_marked_then_kept_and_gone_breaks_the_deletion_rule(
    how: str, requirement: str, invariant: str
) -> None:
    ledger = seeded("a", "b")
    ledger.apply(obs.unmarked("alice", [f"{RUN}/alice/a"], how, 1.0))
    ledger.account("alice", reading("b"))
    (gone,) = ledger.violations
    assert (gone.requirement, gone.invariant) == (requirement, invariant)


def test_duplicates_and_strangers_are_found() -> None:
    ledger = seeded("a")
    ledger.account("alice", reading("a", "a", "x"))
    assert requirements(ledger) == ["RFC1939-6.QUIT-1", "RFC1939-6.QUIT-1"]
    assert any("2 times" in v.actual for v in ledger.violations)


def test_unique_ids_shared_reused_and_unstable_are_graded_apart() -> None:
    ledger = seeded("a", "b")
    ledger.apply(obs.unique_id("alice", "ua", f"{RUN}/alice/b", 1.0))  # ua named a: shared
    ledger.judge_unique_ids()
    assert requirements(ledger) == ["RFC1939-7.UIDL-4", "RFC1939-7.UIDL-5"]
    reused = seeded("a")
    reused.apply(obs.quit_sent("s1", "alice", [f"{RUN}/alice/a"], 1.0, 2.0))
    reused.apply(obs.quit_answered("s1", "alice", True, 2.1, []))
    reused.apply(obs.unique_id("alice", "ua", f"{RUN}/alice/c", 3.0))  # after a was removed
    reused.judge_unique_ids()
    assert requirements(reused) == ["RFC1939-7.UIDL-6"]


def test_sessions_of_two_processes_in_at_once_break_the_lock() -> None:
    ledger = seeded()
    ledger.apply(obs.left("w0s1", "w0", "alice", 1.0, 2.0))
    ledger.apply(obs.left("w0s2", "w0", "alice", 1.5, 2.5))  # same process: seen there
    ledger.apply(obs.left("w1s1", "w1", "alice", 2.1, 3.0))  # overlaps w0s2 by 0.4 s
    ledger.apply(obs.left("w1s2", "w1", "alice", 3.0, 4.0))  # after: fine
    ledger.apply(obs.left("w0s3", "w0", "alice", 3.98, 5.0))  # 20 ms: within the margin
    ledger.judge_overlaps()
    (race,) = ledger.violations
    assert race.requirement == "RFC1939-4-2" and "w0s2" in race.actual and "w1s1" in race.actual
    shared = Ledger(RUN, {}, policy="shared")
    shared.apply(obs.left("w0s1", "w0", "alice", 1.0, 2.0))
    shared.apply(obs.left("w1s1", "w1", "alice", 1.0, 2.0))
    shared.judge_overlaps()
    assert shared.violations == []


def test_the_cutoff_leaves_out_what_sessions_saw_as_the_server_went_down() -> None:
    ledger = seeded()
    for t in (1.0, 5.0):
        ledger.apply(
            obs.Violation("responsive", "RFC1939-5-1", "an answer", "closed", t=t).to_wire()
        )
    ledger.cutoff = 4.0
    assert [v.t for v in ledger.violations] == [1.0]


# -- verdicts ----------------------------------------------------------------------------
def test_a_clean_ledger_passes_every_invariant() -> None:
    results = grade(seeded("a"), Secrets(), 5.0)
    assert [r.id for r in results] == [i.id for i in INVARIANTS.values()]
    assert {r.outcome for r in results} == {Outcome.PASS}
    assert all(c.requirement in r.requirements for r in results for c in r.checks)


def test_breaches_are_graded_by_their_requirement_with_evidence_and_a_count() -> None:
    ledger = seeded()
    words = [TranscriptEntry(5.0, "s1", "C", "PASS hunter2")]
    for t in range(5):
        violation = obs.Violation("lock", "RFC1939-4-2", "one session", "two", t=float(t + 1))
        violation.transcript = words
        ledger.apply(violation.to_wire())
    ledger.found.append(obs.Violation("unique-ids", "RFC1939-7.UIDL-6", "never", "reused"))
    results = {r.id: r for r in grade(ledger, Secrets(["hunter2"]), 5.0)}
    lock = results["stress.lock.one-view"]
    assert lock.outcome is Outcome.FAIL and len(lock.checks) == 3
    assert "5 breaches in all" in lock.checks[0].note
    assert all("hunter2" not in e.text for e in lock.transcript)
    assert results["stress.uidl.stable-unique"].outcome is Outcome.NON_STRICT


def test_what_could_not_be_judged_is_unsupported_and_a_failed_delivery_an_error() -> None:
    ledger = seeded("a")
    ledger.apply(obs.delivery("alice", f"{RUN}/alice/n", "pending", 1.0))
    ledger.apply(obs.delivery("alice", f"{RUN}/alice/n", "failed", 1.1, "ProvisionError: nope"))
    results = {r.id: r for r in grade(ledger, Secrets(), 5.0, {"deletion": "interrupted"})}
    assert results["stress.mailbox.deletion-at-update"].outcome is Outcome.UNSUPPORTED
    assert results["stress.mailbox.accounted"].outcome is Outcome.ERROR
    broken = harness_errors([{"count": 2, "message": "KeyError: x"}], 10, 5.0)
    assert broken is not None and broken.outcome is Outcome.ERROR
    idle = harness_errors([], 0, 5.0)
    assert idle is not None and "no request" in idle.reason
    assert harness_errors([], 10, 5.0) is None


# -- charts and pages --------------------------------------------------------------------
def test_nice_steps_are_round() -> None:
    assert [nice_step(s) for s in (10, 47, 0.3, 900, 0)] == [2, 10, 0.1, 200, 1]


def test_a_line_chart_keeps_its_points_inside_the_plot() -> None:
    chart = line_chart("t", [Series("a", "s-a", [(0, 0), (5, 120), (10, 40)])], "s", "n")
    left, top, right, bottom = chart.plot
    ((_, _, points),) = chart.lines
    for pair in points.split():
        x, y = (float(v) for v in pair.split(","))
        assert left <= x <= right and top <= y <= bottom
    assert chart.x_ticks[0][1] == "0" and chart.y_ticks[-1][1] == "150"
    assert line_chart("t", [Series("a", "s-a", [])], "s", "n").empty


def load_run(tmp_path: Path) -> RunResult:
    ledger = seeded()
    ledger.apply(
        obs.Violation("answers", "RFC1939-5-1", "LIST 1", "<script>x</script>", t=1.0).to_wire()
    )
    row = {"name": "RETR", "requests": 9, "failures": 1, "p50_ms": 1, "p95_ms": 4, "p99_ms": 7}
    row |= {"max_ms": 9.5, "avg_ms": 1.5, "rps": 3.0}
    load = {
        "users": 3,
        "duration_s": 3.0,
        "stopped": "run time reached",
        "mode": "local",
        "workers": 0,
        "policy": "exclusive",
        "mix": {"read": 1},
        "skipped": {"deliver": "no deliver"},
        "commands": [row, {**row, "name": "<b>evil</b>"}],
        "total": {**row, "name": "all"},
        "per_second": [{"t": t, "requests": 3, "failures": t % 2} for t in range(4)],
        "samples": [{"t": t, "users": 3, "p50": 1, "p95": 4} for t in range(4)],
        "failures": [{"name": "RETR", "error": "-ERR <no>", "count": 1}],
        "csv": ["locust_stats.csv"],
    }
    return RunResult(
        "0", "now", 3.0, {"host": "h", "port": 1}, grade(ledger, Secrets(), 3.0), load=load
    )


def test_the_stress_page_draws_its_charts_and_escapes_what_servers_say(tmp_path: Path) -> None:
    page = render_load_page(load_run(tmp_path))
    assert page.count("<polyline") == 5 and "p99_ms" in page
    assert "<script>x" not in page and "&lt;script&gt;x" in page
    assert "<b>evil" not in page and "-ERR &lt;no&gt;" in page
    assert "stress.answers.own-command" in page and "locust_stats.csv" in page
    assert 'id="no-violations"' not in page


def test_the_console_table_lists_each_command_and_what_did_not_run(tmp_path: Path) -> None:
    text = render_load_text(load_run(tmp_path).load)
    assert "RETR" in text and "(all)" in text and "task deliver not run: no deliver" in text


def test_results_json_keeps_the_load_figures(tmp_path: Path) -> None:
    run = load_run(tmp_path)
    again = RunResult.from_dict(run.to_dict())
    assert (
        again.load == run.load
        and "load" not in RunResult.from_dict({**run.to_dict(), "load": {}}).to_dict()
    )


# -- the defects -------------------------------------------------------------------------
def test_the_concurrency_defects_are_listed_with_the_others() -> None:
    concurrent = {d.name for d in DEFECTS.values() if d.concurrent}
    # quit-rewrites-snapshot needs only a delivery during a session, which the
    # sequential suite makes (core.deletion.new-mail-survives-*).
    assert concurrent == {"lock-check-then-set"}
    assert listing().count("under concurrency: pop3-conformance stress") == 1


def test_nothing_here_imported_locust() -> None:
    assert "locust" not in sys.modules and "gevent.monkey" not in sys.modules
