"""Model-based exploration (``pop3-conformance explore``) against the reference server.

The hypothesis profile comes from ``HYPOTHESIS_PROFILE``: ``ci`` (the default)
is derandomized with a fixed seed and few examples, ``nightly`` draws a fresh
seed and explores longer.  Profiles are only passed to the explorations
here, never loaded globally, so other tests keep their own settings.

What must hold: the clean server gives nothing away; each injected defect
is found within a 60 s budget, and its emitted scenario fails against the
defective server and passes against the clean one; a failure that does not
come back on replay is ``nondeterministic``.  Emitted files go to tmp dirs,
never to the repository's suites/regressions/.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.errors import Flaky, FlakyStrategyDefinition

from benchmarks import explore_rate
from conformance.cli import EXIT_FAIL, EXIT_OK, EXIT_USAGE, main
from conformance.explore import ExploreOptions, explore, fragments
from conformance.explore import driver as explore_driver
from conformance.explore.driver import stopped_by_budget
from conformance.explore.emit import scenario_text, write_scenario
from conformance.explore.machine import (
    QUERY_SPECS,
    Context,
    Exhausted,
    Failure,
    evenly,
    lines_of,
)
from conformance.explore.replay import nondeterministic
from conformance.explore.replay import replay as real_replay
from conformance.outcomes import Outcome
from conformance.probe import ServerProfile
from conformance.provision import make_provisioner
from conformance.results import CheckResult
from conformance.scenario import steps as st
from conformance.server.embedded import EmbeddedServer
from conformance.target import Account, Target

settings.register_profile(
    "ci", derandomize=True, max_examples=40, deadline=None, database=None, print_blob=False
)
settings.register_profile("nightly", max_examples=2000, deadline=None, database=None)
PROFILE_NAME = os.environ.get("HYPOTHESIS_PROFILE", "ci")
if PROFILE_NAME not in ("ci", "nightly"):
    PROFILE_NAME = "ci"
PROFILE = settings.get_profile(PROFILE_NAME)
# Seconds of search against the clean server: short in CI, long at night.
CLEAN_BUDGET_S = 8.0 if PROFILE_NAME == "ci" else 240.0
# The bound for finding an injected defect.
DEFECT_BUDGET_S = 60.0
SHRINK_BUDGET_S = 15.0
DEFECTS = ("rset-ignored", "drop-applies-deletions", "renumber-after-dele", "uidl-unstable")


def profile_seed() -> int | None:
    """ci: a fixed seed (derandomized); nightly: None, a fresh one that the result names."""
    return 0 if PROFILE.derandomize else None


def target_of(server: EmbeddedServer) -> Target:
    return Target(
        server.host,
        server.port,
        [Account(a.user, a.password, True) for a in server.accounts],
        make_provisioner(f"maildir:{server.maildir_template}"),
        timeout=10.0,
    )


@pytest.fixture(scope="module")
def clean_server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as server:
        yield server


# -- the pieces, without a server ------------------------------------------------------


def test_each_action_is_scenario_grammar_the_runner_understands() -> None:
    command = fragments.parse_fragment(fragments.command("DELE 3"))
    assert [type(s) for s in command] == [st.Send, st.Expect]
    assert isinstance(command[0], st.Send) and command[0].text == "DELE 3"
    assert isinstance(command[1], st.Expect)
    assert [a.form for a in command[1].alternatives] == ["model"]

    reset = fragments.parse_fragment(fragments.end_and_login("reset"))
    assert isinstance(reset[0], st.End) and reset[0].how == "reset"
    assert isinstance(reset[-1], st.Eventually) and reset[-1].step.session == "A"
    cut = fragments.parse_fragment(fragments.end_and_login("mid-command"))
    assert isinstance(cut[0], st.End) and cut[0].how == "mid-command"
    with pytest.raises(ValueError):
        fragments.end_and_login("explode")

    second = fragments.parse_fragment(fragments.second_login(3))
    expects = [s for s in second if isinstance(s, st.Expect)]
    pass_reply = expects[1].alternatives
    assert [(a.form, a.status, a.grade, a.label) for a in pass_reply] == [
        ("status", "-ERR", "pass", "locked3"),
        ("status", "+OK", "pass", "shared3"),
        ("closed", None, "non-strict", "gone3"),
    ]
    assert isinstance(second[-1], st.Use) and second[-1].session == "A"


def test_a_pipelined_batch_goes_in_one_segment_and_every_answer_is_judged() -> None:
    steps = fragments.parse_fragment(fragments.pipelined(["STAT", "LIST 1", "RETR 2"]))
    sends = [s for s in steps if isinstance(s, st.Send)]
    assert all(s.raw for s in sends)
    assert sends[0].data == b"STAT\r\nLIST 1\r\nRETR 2\r\n"
    # The filler NOOP in pieces: one read per piece, the last completes it.
    assert [s.data for s in sends[1:]] == [b"N", b"O", b"OP\r\n"]
    assert b"".join(s.data for s in sends[1:]) == fragments.FILLER
    assert sum(isinstance(s, st.Expect) for s in steps) == 4  # 3 answers + the NOOP's
    with pytest.raises(ValueError):
        fragments.pipelined(["NOOP"] * (fragments.MAX_BATCH + 1))


def test_each_command_of_a_rule_is_drawn_as_often_as_the_others() -> None:
    lines = evenly(*QUERY_SPECS)
    per_keyword = Counter(line.split(" ", 1)[0] for line in lines)
    assert set(per_keyword) == {spec.keyword for spec in QUERY_SPECS}
    assert len(set(per_keyword.values())) == 1  # LIST's 18 forms weigh what STAT's one does
    # Every form of every command can be drawn, and the first spec comes first
    # (sampled_from shrinks towards it).
    assert all(set(lines_of(spec)) <= set(lines) for spec in QUERY_SPECS)
    assert lines[0] == QUERY_SPECS[0].keyword


def test_the_emitted_file_is_an_ordinary_scenario(tmp_path: Path) -> None:
    lines = [*fragments.login(), *fragments.pipelined(["DELE 1", "STAT"])]
    text = scenario_text(
        seed=42,
        lines=lines,
        requirements=["RFC1939-5.STAT-2", "RFC1939-5.STAT-2", "RFC1939-5.DELE-1"],
        mailbox="small",
        pipelined=True,
        found_against="127.0.0.1:1",
        summary="RFC1939-5.STAT-2 fail",
        timeout_s=25.0,
    )
    emitted = write_scenario(text, tmp_path / "regressions")
    s = emitted.scenario
    assert emitted.path.parent == tmp_path / "regressions"
    assert emitted.path.name == f"{s.id.removeprefix('regression.')}.pop3"
    assert s.id.startswith("regression.explore.42-")
    assert s.requirements == ["RFC1939-5.STAT-2", "RFC1939-5.DELE-1"]
    assert s.needs == ["PIPELINING"] and s.mailbox == "small" and s.destructive
    assert "regression" in s.tags and "explore" in s.tags
    # The replay waits exactly as long as the exploration did.
    assert s.timeout == 25.0
    assert len(s.steps) == len(fragments.parse_fragment(lines))
    # The same failure found again gets the same file.
    again = scenario_text(
        seed=42,
        lines=lines,
        requirements=["RFC1939-5.STAT-2"],
        mailbox="small",
        pipelined=True,
        found_against="elsewhere:2",
        summary="x",
        timeout_s=25.0,
    )
    assert again.splitlines()[0] == text.splitlines()[0]


def test_exploration_waits_as_long_as_the_locking_scenarios() -> None:
    """Dovecot answers a locked second login after about 10 s: a 10 s wait would
    time out where a 20 s replay passes (a false nondeterministic)."""
    context = _context(60.0)
    assert context.step_timeout_s == fragments.LOCK_WAIT_S == 20.0
    assert context.scenario().timeout == 20.0
    context.target.timeout = 30.0
    assert context.scenario().timeout == 30.0


def _context(budget_s: float, shrink_budget_s: float = 60.0) -> Context:
    target = Target("127.0.0.1", 1, [Account("u", "p", True)], make_provisioner("none"))
    return Context(
        target,
        ServerProfile("+OK", False),
        target.accounts[0],
        budget_s=budget_s,
        shrink_budget_s=shrink_budget_s,
    )


def _failure(n_lines: int, tag: str) -> Failure:
    check = CheckResult("RFC1939-5.STAT-2", "MUST", "", Outcome.FAIL, "+OK 1 2", tag)
    return Failure(["C: STAT", "S: model"] * n_lines, [check], [], False)


def test_budgets_end_the_search_and_the_shrinking() -> None:
    spent = _context(budget_s=0.0)
    with pytest.raises(Exhausted):
        spent.next_example()
    assert spent.examples == 0

    context = _context(budget_s=3600.0)
    context.next_example()
    assert context.examples == 1
    # Once a failure is being shrunk, the shrink budget counts, not the search's.
    context.record(_failure(3, "first"))
    context.budget_s = 0.0
    context.next_example()
    context.shrink_budget_s = 0.0
    with pytest.raises(Exhausted):
        context.next_example()


def test_the_minimal_failure_is_the_shortest_and_then_the_latest() -> None:
    context = _context(budget_s=60.0)
    assert context.minimal is None
    for n, tag in ((5, "long"), (2, "short"), (4, "mid"), (2, "short-later")):
        context.record(_failure(n, tag))
    minimal = context.minimal
    assert minimal is not None and minimal.checks[0].actual == "short-later"


def test_a_budget_stop_is_not_taken_for_a_nondeterministic_server() -> None:
    # hypothesis reports an example cut short by the budget as inconsistent
    # data generation; the exception it was handling says why.
    try:
        try:
            raise Exhausted
        except Exhausted:
            # Raised while handling, as hypothesis does (no "from").
            raise FlakyStrategyDefinition("the second run stopped drawing earlier")  # noqa: B904
    except Flaky as exc:
        assert stopped_by_budget(exc)
    assert not stopped_by_budget(FlakyStrategyDefinition("the server changed its mind"))


def test_a_failure_that_is_not_reproduced_is_regraded_nondeterministic() -> None:
    checks = _failure(1, "got +OK 6").checks
    regraded = nondeterministic(checks, "passed on replay")
    assert [c.outcome for c in regraded] == [Outcome.NONDETERMINISTIC]
    assert regraded[0].requirement == "RFC1939-5.STAT-2"
    assert regraded[0].actual == "got +OK 6" and "passed on replay" in regraded[0].note
    assert checks[0].outcome is Outcome.FAIL  # the original is left alone


# -- against the reference server ----------------------------------------------------------


def test_explore_finds_nothing_on_the_reference_server(
    clean_server: EmbeddedServer, tmp_path: Path
) -> None:
    """The pytest entry of the state machine, under the selected hypothesis profile."""
    options = ExploreOptions(
        budget_s=CLEAN_BUDGET_S,
        examples=PROFILE.max_examples,
        seed=profile_seed(),
        emit_dir=tmp_path / "emit",
    )
    exploration = explore(target_of(clean_server), options, base=PROFILE)
    result = exploration.result
    assert not exploration.found, f"seed {exploration.seed}: {result.reason}\n" + "\n".join(
        exploration.failure.lines if exploration.failure else []
    )
    assert result.id == f"explore.{exploration.seed}" and result.outcome is Outcome.PASS
    # hypothesis may run a few examples past max_examples (overruns do not count).
    assert 1 <= exploration.examples <= PROFILE.max_examples + 10
    assert exploration.commands > 2 * exploration.examples  # a login at least, and more
    assert not exploration.run.failed() and exploration.run.scenarios == [result]
    assert not (tmp_path / "emit").exists()


@pytest.mark.parametrize("defect", DEFECTS)
def test_explore_finds_an_injected_defect_and_the_scenario_replays_it(
    defect: str, clean_server: EmbeddedServer, tmp_path: Path
) -> None:
    emit = tmp_path / "emit"
    with EmbeddedServer(extra_args=["--defect", defect]) as server:
        exploration = explore(
            target_of(server),
            ExploreOptions(
                budget_s=DEFECT_BUDGET_S,
                examples=1_000_000,  # the budget bounds it
                seed=profile_seed(),
                shrink_budget_s=SHRINK_BUDGET_S,
                emit_dir=emit,
            ),
        )
    seed = exploration.seed
    assert exploration.found, f"{defect} not found within {DEFECT_BUDGET_S:g} s (seed {seed})"
    assert exploration.found_after_s is not None
    assert exploration.found_after_s < DEFECT_BUDGET_S
    assert exploration.result.outcome is Outcome.FAIL, exploration.result.reason
    assert exploration.run.failed()
    emitted = exploration.emitted
    assert emitted is not None and emitted.path.parent == emit
    assert exploration.result.file == str(emitted.path)

    reports = tmp_path / "reports"
    file = str(emitted.path)
    against_defect = main(
        ["run", "--suites", file, "--defect", defect, "--report-dir", str(reports / "d")]
    )
    against_clean = main(
        [
            "run",
            "--suites",
            file,
            "--host",
            clean_server.host,
            "--port",
            str(clean_server.port),
            "--account",
            f"{clean_server.accounts[0].user}:{clean_server.accounts[0].password}",
            "--provision",
            f"maildir:{clean_server.maildir_template}",
            "--report-dir",
            str(reports / "c"),
        ]
    )
    assert against_defect == EXIT_FAIL, f"seed {seed}: {emitted.path.read_text()}"
    assert against_clean == EXIT_OK, f"seed {seed}: {emitted.path.read_text()}"
    clean = json.loads((reports / "c" / "results.json").read_text())
    assert [s["outcome"] for s in clean["scenarios"]] == ["pass"]


def test_a_failure_that_does_not_come_back_on_replay_is_nondeterministic(
    clean_server: EmbeddedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server "changes its mind" between exploration and replay: never retried away."""
    clean = target_of(clean_server)

    def replay_on_the_clean_server(scenario, target, profile, account, on_finding):  # type: ignore[no-untyped-def]
        return real_replay(scenario, clean, profile, clean.accounts[0], on_finding)

    monkeypatch.setattr(explore_driver, "replay", replay_on_the_clean_server)
    with EmbeddedServer(extra_args=["--defect", "rset-ignored"]) as server:
        exploration = explore(
            target_of(server),
            ExploreOptions(
                budget_s=DEFECT_BUDGET_S,
                examples=1_000_000,
                seed=profile_seed(),
                shrink_budget_s=SHRINK_BUDGET_S,
                emit_dir=tmp_path / "emit",
            ),
        )
    assert exploration.found and exploration.replayed is not None
    assert exploration.replayed.outcome is Outcome.PASS
    result = exploration.result
    assert result.outcome is Outcome.NONDETERMINISTIC
    assert result.checks and all(c.outcome is Outcome.NONDETERMINISTIC for c in result.checks)
    assert "replayed" in result.reason
    assert exploration.run.failed()  # nondeterministic fails a run, like run's


# -- the command line ------------------------------------------------------------------------


def test_cli_explore_prints_the_seed_and_writes_the_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports, emit = tmp_path / "reports", tmp_path / "emit"
    code = main(
        [
            *("explore", "--budget", "3", "--seed", "5"),
            *("--report-dir", str(reports), "--emit", str(emit)),
        ]
    )
    out, err = capsys.readouterr()
    assert code == EXIT_OK, out + err
    assert "seed 5 (repeat with --seed 5)" in err
    assert "commands/s" in out
    results = json.loads((reports / "results.json").read_text())
    assert [(s["id"], s["outcome"]) for s in results["scenarios"]] == [("explore.5", "pass")]
    assert (reports / "junit.xml").is_file()
    assert not emit.exists()


def test_cli_explore_reports_a_defect_with_exit_1_and_a_replayable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports, emit = tmp_path / "reports", tmp_path / "emit"
    code = main(
        [
            *("explore", "--defect", "renumber-after-dele", "--seed", "3", "--budget", "60"),
            *("--shrink-budget", str(SHRINK_BUDGET_S), "--mailbox", "small"),
            *("--report-dir", str(reports), "--emit", str(emit)),
        ]
    )
    out, _ = capsys.readouterr()
    assert code == EXIT_FAIL
    assert "Minimal step list" in out and "Transcript:" in out
    written = list(emit.glob("*.pop3"))
    assert len(written) == 1 and f"--suites {written[0]}" in out
    assert "mailbox: small" in written[0].read_text()
    results = json.loads((reports / "results.json").read_text())
    (scenario,) = results["scenarios"]
    assert scenario["id"] == "explore.3" and scenario["outcome"] == "fail"
    assert scenario["file"] == str(written[0]) and scenario["transcript"]
    assert "testcase" in (reports / "junit.xml").read_text()


def test_cli_explore_refuses_what_it_cannot_explore(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", "--budget", "0"]) == EXIT_USAGE
    assert main(["explore", "--examples", "0"]) == EXIT_USAGE
    # No provisioner: the content is unknown, so nothing could be judged.
    refused = main(["explore", "--host", "127.0.0.1", "--port", "9", "--account", "u:p"])
    assert refused == EXIT_USAGE
    assert "provision" in capsys.readouterr().err
    # Mail judged as it is would be worn down by random DELE and QUIT.
    existing = ["--provision", "existing", "--disposable", "u"]
    refused = main(["explore", "--host", "127.0.0.1", "--port", "9", "--account", "u:p", *existing])
    assert refused == EXIT_USAGE
    assert "--provision existing never does" in capsys.readouterr().err


def test_the_rate_benchmark_produces_figures() -> None:
    figures = explore_rate.run(budget_s=2.0)
    assert figures["examples"] >= 1
    assert figures["explore_per_s"] > 0 and figures["raw_per_s"] > 0
    assert 0 < figures["raw_commands"] <= figures["explore_commands"]
